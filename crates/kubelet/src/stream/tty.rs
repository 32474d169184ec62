//! A terminal's line discipline for `kubectl exec -t`. The process runtime runs commands without
//! a pseudo-terminal (opening one needs unsafe code), so what a pty would do for a raw-mode
//! kubectl is done here: input is edited a line at a time (CR read as NL, echo, erase, kill),
//! ^C ends the command, ^D at the start of a line ends its input, and output gets CRLF line
//! ends. Programs see pipes, not a terminal: shells print no prompt, and full-screen programs
//! do not work.

/// What a chunk of terminal input does.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Effects {
    /// Complete lines (or a line pushed by ^D) for the process's stdin.
    pub to_process: Vec<u8>,
    /// What the terminal shows back to the user.
    pub echo: Vec<u8>,
    /// ^D on an empty line: the process's stdin ends.
    pub end_of_input: bool,
    /// ^C: the command is stopped.
    pub interrupt: bool,
}

/// The line being typed.
#[derive(Debug, Default)]
pub(crate) struct LineDiscipline {
    line: Vec<u8>,
    ended: bool,
}

const INTERRUPT: u8 = 0x03;
const END_OF_FILE: u8 = 0x04;
const BACKSPACE: u8 = 0x08;
const KILL_LINE: u8 = 0x15;
const DELETE: u8 = 0x7f;

impl LineDiscipline {
    /// Applies terminal input.
    pub fn input(&mut self, bytes: &[u8]) -> Effects {
        let mut effects = Effects::default();
        for &byte in bytes {
            if self.ended {
                break;
            }
            match byte {
                b'\r' | b'\n' => {
                    effects.echo.extend_from_slice(b"\r\n");
                    self.line.push(b'\n');
                    effects.to_process.append(&mut self.line);
                }
                DELETE | BACKSPACE => {
                    if self.erase_char() {
                        effects.echo.extend_from_slice(b"\x08 \x08");
                    }
                }
                KILL_LINE => {
                    while self.erase_char() {
                        effects.echo.extend_from_slice(b"\x08 \x08");
                    }
                }
                INTERRUPT => {
                    effects.echo.extend_from_slice(b"^C\r\n");
                    self.line.clear();
                    effects.interrupt = true;
                }
                END_OF_FILE if self.line.is_empty() => {
                    self.ended = true;
                    effects.end_of_input = true;
                }
                END_OF_FILE => effects.to_process.append(&mut self.line),
                b'\t' => {
                    self.line.push(byte);
                    effects.echo.push(byte);
                }
                // Other control characters show as ^X, as a terminal with echoctl does.
                0x00..=0x1f => {
                    self.line.push(byte);
                    effects.echo.extend_from_slice(&[b'^', byte + 0x40]);
                }
                _ => {
                    self.line.push(byte);
                    effects.echo.push(byte);
                }
            }
        }
        effects
    }

    /// Removes the last character (all bytes of a UTF-8 one); false when the line is empty.
    fn erase_char(&mut self) -> bool {
        while let Some(byte) = self.line.pop() {
            if byte & 0b1100_0000 != 0b1000_0000 {
                return true;
            }
        }
        false
    }
}

/// Output as a terminal shows it: every NL becomes CR NL.
pub(crate) fn output(bytes: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(bytes.len() + bytes.len() / 16);
    for &byte in bytes {
        if byte == b'\n' {
            out.push(b'\r');
        }
        out.push(byte);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn effects(to_process: &[u8], echo: &[u8], end: bool, interrupt: bool) -> Effects {
        Effects {
            to_process: to_process.to_vec(),
            echo: echo.to_vec(),
            end_of_input: end,
            interrupt,
        }
    }

    #[test]
    fn typing_edits_a_line() {
        // Each case is a sequence of chunks typed into one discipline, and the last effects.
        let cases: &[(&[&[u8]], Effects)] = &[
            (&[b"ls\r"], effects(b"ls\n", b"ls\r\n", false, false)),
            (
                &[b"l", b"s", b"\r"],
                effects(b"ls\n", b"\r\n", false, false),
            ),
            (
                &[b"lx\x7fs\r"],
                effects(b"ls\n", b"lx\x08 \x08s\r\n", false, false),
            ),
            (&[b"\x7f"], effects(b"", b"", false, false)),
            (
                &["é\x7f\r".as_bytes()],
                effects(b"\n", "é\x08 \x08\r\n".as_bytes(), false, false),
            ),
            (
                &[b"abc\x15x\r"],
                effects(b"x\n", b"abc\x08 \x08\x08 \x08\x08 \x08x\r\n", false, false),
            ),
            (
                &[b"sleep 9\x03"],
                effects(b"", b"sleep 9^C\r\n", false, true),
            ),
            (&[b"\x04"], effects(b"", b"", true, false)),
            (&[b"ab\x04"], effects(b"ab", b"ab", false, false)),
            (&[b"\x04more"], effects(b"", b"", true, false)),
            (
                &[b"\x1b[A\r"],
                effects(b"\x1b[A\n", b"^[[A\r\n", false, false),
            ),
        ];
        for (chunks, expected) in cases {
            let mut discipline = LineDiscipline::default();
            let mut last = Effects::default();
            for chunk in chunks.iter() {
                last = discipline.input(chunk);
            }
            assert_eq!(&last, expected, "{chunks:?}");
        }
    }

    #[test]
    fn output_gets_crlf() {
        assert_eq!(output(b"a\nb\n"), b"a\r\nb\r\n");
        assert_eq!(output(b"no newline"), b"no newline");
    }
}
