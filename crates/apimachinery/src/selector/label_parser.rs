//! The label selector grammar (`a=b,c in (x,y),!d`): a lexer and a recursive-descent parser that
//! accept and reject exactly what kube's do, with the same messages.

use super::label::{Operator, Requirement};
use super::validation::{go_quote, label_key_errors};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Token {
    End,
    OpenPar,
    ClosePar,
    Comma,
    /// `!`, which before a key means "does not exist".
    Bang,
    Equals,
    DoubleEquals,
    NotEquals,
    Greater,
    Less,
    In,
    NotIn,
    Identifier,
}

/// Where a token is read decides whether `in` and `notin` are keywords: after a key they are
/// operators, anywhere else they are plain words (a label may be called `in`).
#[derive(Clone, Copy, PartialEq, Eq)]
enum Context {
    Operator,
    Values,
}

fn is_space(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\r' | b'\n')
}

fn is_special(b: u8) -> bool {
    matches!(b, b'=' | b'!' | b'(' | b')' | b',' | b'>' | b'<')
}

fn symbol(s: &[u8]) -> Option<Token> {
    Some(match s {
        b"(" => Token::OpenPar,
        b")" => Token::ClosePar,
        b"," => Token::Comma,
        b"!" => Token::Bang,
        b"=" => Token::Equals,
        b"==" => Token::DoubleEquals,
        b"!=" => Token::NotEquals,
        b">" => Token::Greater,
        b"<" => Token::Less,
        _ => return None,
    })
}

/// Splits the selector into tokens, ending with `Token::End`. Works on bytes, like kube, so a
/// multi-byte character simply becomes part of an identifier.
fn lex(input: &str) -> Vec<(Token, String)> {
    let bytes = input.as_bytes();
    // kube's lexer reads a NUL byte as the end of input, so one ends the selector here too.
    let end = bytes.iter().position(|b| *b == 0).unwrap_or(bytes.len());
    let mut pos = 0;
    let mut tokens = Vec::new();
    loop {
        while pos < end && is_space(bytes[pos]) {
            pos += 1;
        }
        if pos >= end {
            tokens.push((Token::End, String::new()));
            return tokens;
        }
        let start = pos;
        if is_special(bytes[pos]) {
            // The longest run of symbol characters that is still a known symbol: `!=` is one
            // token, `=(` is two.
            let mut best = (Token::End, start);
            while pos < end && is_special(bytes[pos]) {
                pos += 1;
                match symbol(&bytes[start..pos]) {
                    Some(t) => best = (t, pos),
                    None => break,
                }
            }
            let (token, stop) = best;
            pos = stop;
            tokens.push((token, input[start..stop].to_string()));
        } else {
            while pos < end && !is_special(bytes[pos]) && !is_space(bytes[pos]) {
                pos += 1;
            }
            let word = &input[start..pos];
            let token = match word {
                "in" => Token::In,
                "notin" => Token::NotIn,
                _ => Token::Identifier,
            };
            tokens.push((token, word.to_string()));
        }
    }
}

struct Parser {
    tokens: Vec<(Token, String)>,
    pos: usize,
}

impl Parser {
    fn read(&self, at: usize, context: Context) -> (Token, String) {
        let (token, literal) = self.tokens[at.min(self.tokens.len() - 1)].clone();
        let token = match token {
            Token::In | Token::NotIn if context == Context::Values => Token::Identifier,
            t => t,
        };
        (token, literal)
    }

    fn peek(&self, context: Context) -> (Token, String) {
        self.read(self.pos, context)
    }

    fn next(&mut self, context: Context) -> (Token, String) {
        let item = self.read(self.pos, context);
        self.pos += 1;
        item
    }

    fn selector(&mut self) -> Result<Vec<Requirement>, String> {
        let mut requirements = Vec::new();
        loop {
            let (token, literal) = self.peek(Context::Values);
            match token {
                Token::Identifier | Token::Bang => {
                    let r = self
                        .requirement()
                        .map_err(|e| format!("unable to parse requirement: {e}"))?;
                    requirements.push(r);
                    let (token, literal) = self.next(Context::Values);
                    match token {
                        Token::End => return Ok(requirements),
                        Token::Comma => {
                            let (after, literal) = self.peek(Context::Values);
                            if after != Token::Identifier && after != Token::Bang {
                                return Err(format!(
                                    "found '{literal}', expected: identifier after ','"
                                ));
                            }
                        }
                        _ => {
                            return Err(format!(
                                "found '{literal}', expected: ',' or 'end of string'"
                            ));
                        }
                    }
                }
                Token::End => return Ok(requirements),
                _ => {
                    return Err(format!(
                        "found '{literal}', expected: !, identifier, or 'end of string'"
                    ));
                }
            }
        }
    }

    fn requirement(&mut self) -> Result<Requirement, String> {
        let (key, implied) = self.key_and_implied_operator()?;
        if let Some(op) = implied {
            return Requirement::checked(key, op, Vec::new());
        }
        let operator = self.operator()?;
        let values = match operator {
            Operator::In | Operator::NotIn => self.value_set()?,
            _ => vec![self.exact_value()?],
        };
        Requirement::checked(key, operator, values)
    }

    /// Reads `key` or `!key`; the operator is known already when nothing follows the key.
    fn key_and_implied_operator(&mut self) -> Result<(String, Option<Operator>), String> {
        let (mut token, mut literal) = self.next(Context::Values);
        let mut implied = None;
        if token == Token::Bang {
            implied = Some(Operator::DoesNotExist);
            (token, literal) = self.next(Context::Values);
        }
        if token != Token::Identifier {
            return Err(format!("found '{literal}', expected: identifier"));
        }
        let errs = label_key_errors(&literal);
        if !errs.is_empty() {
            // The parser has no field path, and kube prints the missing path as `<nil>`.
            return Err(format!(
                "<nil>: Invalid value: {}: {}",
                go_quote(&literal),
                errs.join("; ")
            ));
        }
        let (after, _) = self.peek(Context::Values);
        if implied.is_none() && matches!(after, Token::End | Token::Comma) {
            implied = Some(Operator::Exists);
        }
        Ok((literal, implied))
    }

    fn operator(&mut self) -> Result<Operator, String> {
        let (token, literal) = self.next(Context::Operator);
        Ok(match token {
            Token::In => Operator::In,
            Token::NotIn => Operator::NotIn,
            Token::Equals => Operator::Equals,
            Token::DoubleEquals => Operator::DoubleEquals,
            Token::NotEquals => Operator::NotEquals,
            Token::Greater => Operator::GreaterThan,
            Token::Less => Operator::LessThan,
            _ => {
                return Err(format!(
                    "found '{literal}', expected: in, notin, =, ==, !=, gt, lt"
                ));
            }
        })
    }

    /// `(a,b,c)`: returned sorted and without repeats, as kube's string set gives them. Empty
    /// slots (`(a,)`, `()`) stand for the empty value.
    fn value_set(&mut self) -> Result<Vec<String>, String> {
        let (token, literal) = self.next(Context::Values);
        if token != Token::OpenPar {
            return Err(format!("found '{literal}' expected: '('"));
        }
        let (token, literal) = self.peek(Context::Values);
        let mut values = match token {
            Token::Identifier | Token::Comma => {
                let values = self.identifiers()?;
                let (close, _) = self.next(Context::Values);
                if close != Token::ClosePar {
                    return Err(format!("found '{literal}', expected: ')'"));
                }
                values
            }
            Token::ClosePar => {
                self.next(Context::Values);
                vec![String::new()]
            }
            _ => {
                return Err(format!(
                    "found '{literal}', expected: ',', ')' or identifier"
                ));
            }
        };
        values.sort();
        values.dedup();
        Ok(values)
    }

    /// The inside of `( ... )`, stopping before the closing parenthesis.
    fn identifiers(&mut self) -> Result<Vec<String>, String> {
        let mut values: Vec<String> = Vec::new();
        loop {
            let (token, literal) = self.next(Context::Values);
            match token {
                Token::Identifier => {
                    values.push(literal);
                    let (after, literal) = self.peek(Context::Values);
                    match after {
                        Token::Comma => continue,
                        Token::ClosePar => return Ok(values),
                        _ => return Err(format!("found '{literal}', expected: ',' or ')'")),
                    }
                }
                Token::Comma => {
                    // A leading, doubled or trailing comma marks an empty value.
                    if values.is_empty() {
                        values.push(String::new());
                    }
                    let (after, _) = self.peek(Context::Values);
                    match after {
                        Token::ClosePar => {
                            values.push(String::new());
                            return Ok(values);
                        }
                        Token::Comma => values.push(String::new()),
                        _ => {}
                    }
                }
                _ => return Err(format!("found '{literal}', expected: ',', or identifier")),
            }
        }
    }

    /// The value after `=`, `==`, `!=`, `>` or `<`; nothing at all means the empty value.
    fn exact_value(&mut self) -> Result<String, String> {
        let (token, _) = self.peek(Context::Values);
        if matches!(token, Token::End | Token::Comma) {
            return Ok(String::new());
        }
        let (token, literal) = self.next(Context::Values);
        if token == Token::Identifier {
            Ok(literal)
        } else {
            Err(format!("found '{literal}', expected: identifier"))
        }
    }
}

/// Parses a label selector string into its requirements, in the order written.
pub fn parse(selector: &str) -> Result<Vec<Requirement>, String> {
    Parser {
        tokens: lex(selector),
        pos: 0,
    }
    .selector()
}
