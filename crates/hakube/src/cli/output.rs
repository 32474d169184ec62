//! Output for people: minikube-style progress lines (emoji on a terminal, plain `*` lines when
//! NO_COLOR is set or stdout is not a terminal) and boxed tables.

use std::io::IsTerminal;

use cluster::progress::{Icon, Progress};

/// Prints progress lines to stdout.
#[derive(Debug)]
pub struct Printer {
    fancy: bool,
}

impl Printer {
    /// Fancy only on a terminal without NO_COLOR.
    pub fn new() -> Printer {
        let fancy = std::env::var_os("NO_COLOR").is_none() && std::io::stdout().is_terminal();
        Printer { fancy }
    }
}

fn emoji(icon: Icon) -> &'static str {
    match icon {
        Icon::Hello => "😄",
        Icon::Driver => "✨",
        Icon::Starting => "👍",
        Icon::Verifying => "🔎",
        Icon::Done => "🏄",
        Icon::Adding => "😄",
        Icon::Deleting => "🔥",
        Icon::Stopping => "✋",
        Icon::Stopped => "🛑",
        Icon::Removed => "💀",
        Icon::Warning => "❗",
    }
}

impl Progress for Printer {
    fn step(&self, icon: Icon, text: &str) {
        if self.fancy {
            println!("{}  {text}", emoji(icon));
        } else {
            println!("* {text}");
        }
    }

    fn detail(&self, text: &str) {
        if self.fancy {
            println!("    ▪ {text}");
        } else {
            println!("  - {text}");
        }
    }
}

/// A table with `|` borders and `-` rules, as minikube prints its lists.
pub fn boxed_table(headers: &[&str], rows: &[Vec<String>]) -> String {
    let mut widths: Vec<usize> = headers.iter().map(|h| h.chars().count()).collect();
    for row in rows {
        for (i, cell) in row.iter().enumerate() {
            if let Some(w) = widths.get_mut(i) {
                *w = (*w).max(cell.chars().count());
            }
        }
    }
    let rule: String = widths.iter().fold(String::from("|"), |mut s, w| {
        s.push_str(&"-".repeat(w + 2));
        s.push('|');
        s
    });
    let line = |cells: Vec<&str>| -> String {
        let mut s = String::from("|");
        for (cell, w) in cells.iter().zip(&widths) {
            let pad = w - cell.chars().count();
            s.push_str(&format!(" {cell}{} |", " ".repeat(pad)));
        }
        s
    };
    let mut out = vec![rule.clone(), line(headers.to_vec()), rule.clone()];
    for row in rows {
        out.push(line(row.iter().map(String::as_str).collect()));
    }
    out.push(rule);
    out.join("\n") + "\n"
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tables_line_up() {
        let table = boxed_table(
            &["Profile", "Nodes"],
            &[
                vec!["ha-demo".into(), "3".into()],
                vec!["x".into(), "10".into()],
            ],
        );
        let want = "\
|---------|-------|
| Profile | Nodes |
|---------|-------|
| ha-demo | 3     |
| x       | 10    |
|---------|-------|
";
        assert_eq!(table, want);
    }
}
