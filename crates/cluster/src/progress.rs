//! Progress lines while the lifecycle works, as minikube prints them. The lifecycle says what
//! happens; the CLI decides how it looks (emoji on a terminal, plain `*` lines otherwise).

/// What kind of step a line announces.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Icon {
    Hello,
    Driver,
    Starting,
    Verifying,
    Done,
    Adding,
    Deleting,
    Stopping,
    Stopped,
    Removed,
    Warning,
}

/// Receives progress lines.
pub trait Progress: Send + Sync {
    /// A step (a top-level line).
    fn step(&self, icon: Icon, text: &str);
    /// A detail under the current step.
    fn detail(&self, text: &str);
}

/// Prints nothing (for tests and JSON output).
#[derive(Debug, Default)]
pub struct Quiet;

impl Progress for Quiet {
    fn step(&self, _icon: Icon, _text: &str) {}
    fn detail(&self, _text: &str) {}
}
