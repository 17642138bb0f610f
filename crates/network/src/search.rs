//! Stripe's search query language for PaymentIntents (`GET /v1/payment_intents/search`),
//! parsed into a [`Query`] that each storage backend turns into bound SQL: no text of a
//! query ever becomes SQL.
//!
//! A query is clauses `field op value` joined by spaces or `AND`, or all by `OR` (the two
//! are never mixed, and there are no parentheses), each clause negated by a leading `-`.
//! Fields: `status`, `currency`, `customer` (strings, exact match, case-insensitive),
//! `amount` and `created` (integers; `:`, `=`, `>`, `>=`, `<`, `<=`), `metadata['key']`
//! (exact match). Strings are quoted with `"` or `'` (`\` escapes the next character);
//! `null` matches a field that is not set. Stripe's reference for the language:
//! <https://docs.stripe.com/search>.

/// Stripe's limit on the clauses of one query.
pub const MAX_CLAUSES: usize = 10;

/// How the clauses are joined.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Join {
    /// Every clause holds.
    And,
    /// Any clause holds.
    Or,
}

/// A field a PaymentIntent search may name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Field {
    /// `status`.
    Status,
    /// `currency`.
    Currency,
    /// `customer`.
    Customer,
    /// `amount`.
    Amount,
    /// `created`.
    Created,
    /// `metadata['key']`.
    Metadata(String),
}

/// A comparison.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    /// `:` (or `=` on a number): equal.
    Eq,
    /// `>`.
    Gt,
    /// `>=`.
    Gte,
    /// `<`.
    Lt,
    /// `<=`.
    Lte,
}

impl Op {
    /// The SQL operator.
    pub fn sql(self) -> &'static str {
        match self {
            Op::Eq => "=",
            Op::Gt => ">",
            Op::Gte => ">=",
            Op::Lt => "<",
            Op::Lte => "<=",
        }
    }
}

/// A clause's value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Value {
    /// A string field's value (compared case-insensitively, metadata excepted).
    Str(String),
    /// A number field's value.
    Int(i64),
    /// `null`: the field is not set.
    Null,
}

/// One clause.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Clause {
    /// `-` before it.
    pub negated: bool,
    /// The field.
    pub field: Field,
    /// The comparison.
    pub op: Op,
    /// The value.
    pub value: Value,
}

/// A parsed query.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Query {
    /// How the clauses join.
    pub join: Join,
    /// At least one, at most [`MAX_CLAUSES`].
    pub clauses: Vec<Clause>,
}

struct Parser<'a> {
    s: &'a str,
    at: usize,
}

impl<'a> Parser<'a> {
    fn rest(&self) -> &'a str {
        &self.s[self.at..]
    }

    fn skip_ws(&mut self) -> bool {
        let before = self.at;
        while self.rest().starts_with(char::is_whitespace) {
            self.at += self.rest().chars().next().map_or(1, char::len_utf8);
        }
        self.at > before
    }

    fn eat(&mut self, token: &str) -> bool {
        if self.rest().starts_with(token) {
            self.at += token.len();
            true
        } else {
            false
        }
    }

    /// A quoted string, the quote already seen ahead.
    fn quoted(&mut self) -> Result<String, String> {
        let quote = self.rest().chars().next().expect("a quote ahead");
        self.at += 1;
        let mut out = String::new();
        let mut chars = self.rest().char_indices();
        while let Some((i, c)) = chars.next() {
            match c {
                '\\' => match chars.next() {
                    Some((_, e)) => out.push(e),
                    None => break,
                },
                c if c == quote => {
                    self.at += i + 1;
                    return Ok(out);
                }
                c => out.push(c),
            }
        }
        Err(format!("A string value is missing its closing {quote}."))
    }

    fn clause(&mut self) -> Result<Clause, String> {
        let negated = self.eat("-");
        let start = self.at;
        let field = if self.eat("metadata[") {
            if !self.rest().starts_with(['\'', '"']) {
                return Err("A metadata key is written metadata['key'].".into());
            }
            let key = self.quoted()?;
            if !self.eat("]") {
                return Err("A metadata key is written metadata['key'].".into());
            }
            Field::Metadata(key)
        } else {
            let len = self
                .rest()
                .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == '.'))
                .unwrap_or(self.rest().len());
            let name = &self.rest()[..len];
            self.at += len;
            match name {
                "status" => Field::Status,
                "currency" => Field::Currency,
                "customer" => Field::Customer,
                "amount" => Field::Amount,
                "created" => Field::Created,
                "" => return Err(format!("Expected a field at position {start}.")),
                other => {
                    return Err(format!(
                        "Field '{other}' is not supported for search on payment_intents: use amount, created, currency, customer, metadata or status."
                    ));
                }
            }
        };
        let op = if self.eat(">=") {
            Op::Gte
        } else if self.eat("<=") {
            Op::Lte
        } else if self.eat(">") {
            Op::Gt
        } else if self.eat("<") {
            Op::Lt
        } else if self.eat(":") || self.eat("=") {
            Op::Eq
        } else if self.eat("~") {
            return Err(
                "Substring matching (~) is not supported on any payment_intents field.".into(),
            );
        } else {
            return Err(format!(
                "Expected an operator (:, >, >=, <, <=) after the field at position {start}."
            ));
        };
        let value = if self.rest().starts_with(['\'', '"']) {
            Value::Str(self.quoted()?)
        } else {
            let len = self
                .rest()
                .find(char::is_whitespace)
                .unwrap_or(self.rest().len());
            let word = &self.rest()[..len];
            self.at += len;
            if word == "null" {
                Value::Null
            } else if let Ok(n) = word.parse::<i64>() {
                Value::Int(n)
            } else if word.is_empty() {
                return Err(format!("Expected a value at position {}.", self.at));
            } else {
                return Err(format!(
                    "The value {word} must be quoted: string values are written \"{word}\"."
                ));
            }
        };
        let numeric = matches!(field, Field::Amount | Field::Created);
        match (&value, numeric) {
            (Value::Int(_), true) | (Value::Null, false) => {}
            (Value::Str(_), false) if op == Op::Eq => {}
            (Value::Str(_), false) => {
                return Err(
                    "Comparison operators (>, >=, <, <=) apply only to amount and created.".into(),
                );
            }
            (_, true) => {
                return Err("amount and created are compared with integers.".into());
            }
            (Value::Int(n), false) => {
                return Err(format!(
                    "The value {n} must be quoted: string values are written \"{n}\"."
                ));
            }
        }
        if value == Value::Null && op != Op::Eq {
            return Err("null is matched only with ':'.".into());
        }
        Ok(Clause {
            negated,
            field,
            op,
            value,
        })
    }
}

/// Parse `text`; the error is a sentence for the developer (Stripe's 400 on `query`).
pub fn parse(text: &str) -> Result<Query, String> {
    let mut p = Parser { s: text, at: 0 };
    p.skip_ws();
    if p.rest().is_empty() {
        return Err("The query is empty.".into());
    }
    let mut clauses = vec![p.clause()?];
    let mut join: Option<Join> = None;
    loop {
        let spaced = p.skip_ws();
        if p.rest().is_empty() {
            break;
        }
        if !spaced {
            return Err(format!(
                "Expected a space after the clause at position {}.",
                p.at
            ));
        }
        let word_len = p.rest().find(char::is_whitespace).unwrap_or(0);
        let this = match p.rest()[..word_len].to_ascii_uppercase().as_str() {
            "AND" => {
                p.at += word_len;
                Join::And
            }
            "OR" => {
                p.at += word_len;
                Join::Or
            }
            _ => Join::And,
        };
        if join.is_some_and(|j| j != this) {
            return Err("AND and OR cannot be combined in one query.".into());
        }
        join = Some(this);
        p.skip_ws();
        clauses.push(p.clause()?);
        if clauses.len() > MAX_CLAUSES {
            return Err(format!("A query may have at most {MAX_CLAUSES} clauses."));
        }
    }
    Ok(Query {
        join: join.unwrap_or(Join::And),
        clauses,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stripe_queries_parse() {
        let q = parse("status:'succeeded' AND metadata['order_id']:'6735'").unwrap();
        assert_eq!(q.join, Join::And);
        assert_eq!(
            q.clauses[1],
            Clause {
                negated: false,
                field: Field::Metadata("order_id".into()),
                op: Op::Eq,
                value: Value::Str("6735".into()),
            }
        );
        let q = parse(r#"amount>1000 -currency:"usd" created<=1620310503"#).unwrap();
        assert_eq!(q.join, Join::And);
        assert_eq!(q.clauses.len(), 3);
        assert!(q.clauses[1].negated);
        assert_eq!(q.clauses[2].op, Op::Lte);
        let q = parse(r#"customer:"cus_a" or customer:'cus_\'b'"#).unwrap();
        assert_eq!(q.join, Join::Or);
        assert_eq!(q.clauses[1].value, Value::Str("cus_'b".into()));
        assert_eq!(
            parse("customer:null").unwrap().clauses[0].value,
            Value::Null
        );
    }

    #[test]
    fn bad_queries_say_why() {
        for (q, says) in [
            ("", "empty"),
            ("status:'a' AND amount>1 OR amount<5", "cannot be combined"),
            ("email:'x'", "not supported"),
            ("status:succeeded", "must be quoted"),
            ("status>'a'", "apply only to amount"),
            ("amount:'12'", "integers"),
            ("status:'open", "closing"),
            ("metadata[k]:'v'", "metadata['key']"),
            ("customer~'cus'", "Substring"),
            ("status", "operator"),
        ] {
            let e = parse(q).unwrap_err();
            assert!(e.contains(says), "{q}: {e}");
        }
        let eleven = ["amount>1"; 11].join(" ");
        assert!(parse(&eleven).unwrap_err().contains("at most 10"));
    }
}
