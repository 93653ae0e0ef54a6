//! A small RFC 4180 CSV reader for the public safety corpora (quoted fields, doubled quotes,
//! line breaks inside quotes, CRLF). Only what the corpora need; no dependency.

/// The records of `text`, header included, each a list of fields.
pub fn records(text: &str) -> Vec<Vec<String>> {
    let mut rows = Vec::new();
    let mut row = Vec::new();
    let mut field = String::new();
    let mut quoted = false;
    let mut chars = text.chars().peekable();
    let mut any = false;
    while let Some(c) = chars.next() {
        any = true;
        if quoted {
            if c == '"' {
                if chars.peek() == Some(&'"') {
                    field.push('"');
                    chars.next();
                } else {
                    quoted = false;
                }
            } else {
                field.push(c);
            }
            continue;
        }
        match c {
            '"' => quoted = true,
            ',' => row.push(std::mem::take(&mut field)),
            '\r' => {}
            '\n' => {
                row.push(std::mem::take(&mut field));
                rows.push(std::mem::take(&mut row));
                any = false;
            }
            _ => field.push(c),
        }
    }
    if any {
        row.push(field);
        rows.push(row);
    }
    rows
}

/// Records as maps from the header's column names; rows with the wrong width are skipped.
pub fn table(text: &str) -> Vec<std::collections::BTreeMap<String, String>> {
    let mut rows = records(text).into_iter();
    let Some(header) = rows.next() else {
        return Vec::new();
    };
    rows.filter(|r| r.len() == header.len())
        .map(|r| header.iter().cloned().zip(r).collect())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quotes_commas_and_line_breaks() {
        let t = table("a,b\r\n\"x, \"\"y\"\"\",\"1\n2\"\nplain,3\n");
        assert_eq!(t.len(), 2);
        assert_eq!(t[0]["a"], "x, \"y\"");
        assert_eq!(t[0]["b"], "1\n2");
        assert_eq!(t[1]["a"], "plain");
    }
}
