//! Reads the ASCII tables etcdctl prints with `-w table` into header names and rows of cells.

/// One `-w table` table.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Table {
    pub header: Vec<String>,
    pub rows: Vec<Vec<String>>,
}

impl Table {
    /// Parses a table that makes up all of `text` (border lines start with `+`, cell lines with
    /// `|`, and the first cell line is the header). Returns `None` for anything else.
    pub fn parse(text: &str) -> Option<Table> {
        let mut lines = text.lines().filter(|l| !l.trim().is_empty());
        if !lines
            .clone()
            .all(|l| l.starts_with('+') || l.starts_with('|'))
        {
            return None;
        }
        let mut cell_lines = lines.by_ref().filter(|l| l.starts_with('|')).map(cells);
        let header = cell_lines.next()?;
        let rows: Vec<_> = cell_lines.collect();
        if rows.iter().any(|r| r.len() != header.len()) {
            return None;
        }
        Some(Table { header, rows })
    }

    pub fn column(&self, name: &str) -> Option<usize> {
        self.header.iter().position(|h| h == name)
    }

    /// The cells of one column, top to bottom; empty if there is no such column.
    pub fn values(&self, name: &str) -> Vec<&str> {
        match self.column(name) {
            Some(c) => self.rows.iter().map(|r| r[c].as_str()).collect(),
            None => Vec::new(),
        }
    }

    /// Prints the table with single spaces around cells, so that column widths, which follow
    /// the widest value, do not matter once values are normalised.
    pub fn render(&self) -> String {
        let mut out = String::new();
        for row in std::iter::once(&self.header).chain(&self.rows) {
            out.push_str("| ");
            out.push_str(&row.join(" | "));
            out.push_str(" |\n");
        }
        out
    }
}

fn cells(line: &str) -> Vec<String> {
    let inner = line.trim().trim_start_matches('|').trim_end_matches('|');
    inner.split('|').map(|c| c.trim().to_string()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_member_list_table() {
        // Printed by etcd 3.4.23 right after `member add --learner`.
        let text = "\
+------------------+-----------+------+-------------------------+-------------------------+------------+
|        ID        |  STATUS   | NAME |       PEER ADDRS        |      CLIENT ADDRS       | IS LEARNER |
+------------------+-----------+------+-------------------------+-------------------------+------------+
| 3f7f495ed660cf59 |   started |   m1 | http://127.201.7.1:2380 | http://127.201.7.1:2379 |      false |
| 91e6647ec471792d | unstarted |      | http://127.201.7.4:2380 |                         |       true |
+------------------+-----------+------+-------------------------+-------------------------+------------+
";
        let table = Table::parse(text).unwrap();
        assert_eq!(table.header[5], "IS LEARNER");
        assert_eq!(table.values("STATUS"), ["started", "unstarted"]);
        assert_eq!(table.values("NAME"), ["m1", ""]);
        assert_eq!(table.values("CLIENT ADDRS")[1], "");
        assert_eq!(
            table.render().lines().nth(2),
            Some("| 91e6647ec471792d | unstarted |  | http://127.201.7.4:2380 |  | true |")
        );
    }

    #[test]
    fn rejects_text_that_is_not_a_table() {
        assert_eq!(Table::parse("OK\n"), None);
        assert_eq!(Table::parse(""), None);
        assert_eq!(Table::parse("+--+\n| a |\n+--+\nfound 2 leases\n"), None);
    }
}
