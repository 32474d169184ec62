//! Reads the tables kubectl prints for people (`get`, `api-resources`): a header of column
//! names, then rows whose cells start where their column's name starts.

use anyhow::{Context, Result, bail};

/// One printed table.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Columns {
    pub header: Vec<String>,
    pub rows: Vec<Vec<String>>,
}

impl Columns {
    /// Parses a table. kubectl pads every column to its widest cell plus three spaces, so a
    /// column starts where its name does; names such as `NOMINATED NODE` hold single spaces,
    /// and cells may be empty, so splitting rows on whitespace would misplace cells.
    pub fn parse(text: &str) -> Result<Columns> {
        let mut lines = text.lines().filter(|l| !l.trim().is_empty());
        let header_line = lines.next().context("no table: the output is empty")?;
        let starts = column_starts(header_line);
        if starts.is_empty() || starts[0] != 0 {
            bail!("not a table header: {header_line:?}");
        }
        let header = cut(header_line, &starts);
        let rows = lines.map(|line| cut(line, &starts)).collect();
        Ok(Columns { header, rows })
    }

    pub fn column(&self, name: &str) -> Option<usize> {
        self.header.iter().position(|h| h == name)
    }

    /// The header as `&str`s, for comparing with a list of names.
    pub fn names(&self) -> Vec<&str> {
        self.header.iter().map(String::as_str).collect()
    }

    /// The first row whose cell in `column` is `value`.
    pub fn row_where(&self, column: &str, value: &str) -> Option<&[String]> {
        let c = self.column(column)?;
        self.rows.iter().find(|r| r[c] == value).map(Vec::as_slice)
    }

    /// The row named `name` (in the NAME column) as (column, cell) pairs, which read well in
    /// assertion messages.
    pub fn row(&self, name: &str) -> Result<Vec<(&str, &str)>> {
        let row = self
            .row_where("NAME", name)
            .with_context(|| format!("no row named {name:?} in {self:#?}"))?;
        Ok(self
            .header
            .iter()
            .map(String::as_str)
            .zip(row.iter().map(String::as_str))
            .collect())
    }
}

/// Where each column begins: at a name that follows the line's start or two or more spaces.
fn column_starts(header: &str) -> Vec<usize> {
    let bytes = header.as_bytes();
    (0..bytes.len())
        .filter(|&i| {
            bytes[i] != b' ' && (i == 0 || (i >= 2 && bytes[i - 1] == b' ' && bytes[i - 2] == b' '))
        })
        .collect()
}

/// Cuts a line at the column starts; the last cell runs to the end of the line.
fn cut(line: &str, starts: &[usize]) -> Vec<String> {
    let chars: Vec<char> = line.chars().collect();
    let cell = |from: usize, to: usize| -> String {
        let to = to.min(chars.len());
        let from = from.min(to);
        chars[from..to]
            .iter()
            .collect::<String>()
            .trim()
            .to_string()
    };
    starts
        .iter()
        .enumerate()
        .map(|(i, &from)| cell(from, starts.get(i + 1).copied().unwrap_or(usize::MAX)))
        .collect()
}

/// Whether `cell` reads like kubectl's AGE column (`5s`, `3m12s`, `2d4h`, `<unknown>` is not).
pub fn is_age(cell: &str) -> bool {
    cell.starts_with(|c: char| c.is_ascii_digit())
        && cell.ends_with(['s', 'm', 'h', 'd', 'y'])
        && cell
            .chars()
            .all(|c| c.is_ascii_digit() || "smhdy".contains(c))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cells_follow_the_header_even_when_empty_or_spaced() {
        // Made-up rows in kubectl's layout: an empty SHORTNAMES cell, and a two-word header.
        let text = "\
NAME          SHORTNAMES   APIVERSION   NOMINATED NODE   KIND
bindings                   v1           <none>           Binding
configmaps    cm           v1                            ConfigMap
";
        let table = Columns::parse(text).unwrap();
        assert_eq!(
            table.names(),
            ["NAME", "SHORTNAMES", "APIVERSION", "NOMINATED NODE", "KIND"]
        );
        assert_eq!(
            table.rows,
            [
                ["bindings", "", "v1", "<none>", "Binding"],
                ["configmaps", "cm", "v1", "", "ConfigMap"],
            ]
        );
        assert_eq!(table.row("configmaps").unwrap()[1], ("SHORTNAMES", "cm"));
        assert!(table.row("secrets").is_err());
    }

    #[test]
    fn rejects_what_is_not_a_table() {
        assert!(Columns::parse("").is_err());
        assert!(Columns::parse("   indented\n").is_err());
    }

    #[test]
    fn ages() {
        for (cell, age) in [
            ("5s", true),
            ("3m12s", true),
            ("2d4h", true),
            ("<unknown>", false),
            ("", false),
            ("12", false),
            ("s", false),
        ] {
            assert_eq!(is_age(cell), age, "{cell:?}");
        }
    }
}
