//! Stripe's search query language (`GET /v1/{payment_intents,customers,products,prices}/search`),
//! parsed into a [`Query`] that each storage backend turns into bound SQL: no text of a
//! query ever becomes SQL.
//!
//! A query is clauses `field op value` joined by spaces or `AND`, or all by `OR` (the two
//! are never mixed, and there are no parentheses), each clause negated by a leading `-`.
//! Which fields a search may name, and of what type, is its object's [`Fields`]: strings
//! (exact match with `:`, case-insensitive; substring match with `~` on the fields that
//! allow it, at least 3 characters), integers and timestamps (`:`, `=`, `>`, `>=`, `<`,
//! `<=`), booleans (`:'true'`), and `metadata['key']` (exact match). Strings are quoted with
//! `"` or `'` (`\` escapes the next character); `null` matches a field that is not set.
//! Stripe's reference for the language and each object's query fields:
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

/// What a query field holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Type {
    /// A string: exact match, and substring match (`~`) when `substring`.
    Text {
        /// `~` allowed.
        substring: bool,
    },
    /// An integer or a timestamp (unix seconds).
    Int,
    /// `true` or `false`.
    Bool,
}

/// The fields one object's search may name (besides `metadata['key']`), with their types.
#[derive(Debug, Clone, Copy)]
pub struct Fields {
    /// The objects, as Stripe names them in its messages (`payment_intents`).
    pub object: &'static str,
    /// Name and type of each field.
    pub fields: &'static [(&'static str, Type)],
}

const EXACT: Type = Type::Text { substring: false };
const SUBSTRING: Type = Type::Text { substring: true };

/// PaymentIntents' query fields.
pub const PAYMENT_INTENTS: Fields = Fields {
    object: "payment_intents",
    fields: &[
        ("amount", Type::Int),
        ("created", Type::Int),
        ("currency", EXACT),
        ("customer", EXACT),
        ("status", EXACT),
    ],
};

/// Customers' query fields.
pub const CUSTOMERS: Fields = Fields {
    object: "customers",
    fields: &[
        ("created", Type::Int),
        ("email", SUBSTRING),
        ("name", SUBSTRING),
        ("phone", SUBSTRING),
    ],
};

/// Products' query fields.
pub const PRODUCTS: Fields = Fields {
    object: "products",
    fields: &[
        ("active", Type::Bool),
        ("description", SUBSTRING),
        ("name", SUBSTRING),
        ("shippable", Type::Bool),
        ("url", EXACT),
    ],
};

/// Prices' query fields.
pub const PRICES: Fields = Fields {
    object: "prices",
    fields: &[
        ("active", Type::Bool),
        ("currency", EXACT),
        ("lookup_key", EXACT),
        ("product", EXACT),
        ("type", EXACT),
    ],
};

impl Fields {
    fn named(&self, name: &str) -> Option<(&'static str, Type)> {
        self.fields.iter().find(|(n, _)| *n == name).copied()
    }

    fn names(&self) -> String {
        let mut names: Vec<&str> = self.fields.iter().map(|(n, _)| *n).collect();
        names.push("metadata");
        names.sort_unstable();
        names.join(", ")
    }
}

/// Least characters of a substring (`~`) value.
pub const MIN_SUBSTRING_CHARS: usize = 3;

/// A field a search names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Field {
    /// One of the object's [`Fields`], with its type.
    Named(&'static str, Type),
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
    /// `~`: the value is a substring (case-insensitive).
    Contains,
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
            Op::Contains => "~",
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
    /// A boolean field's value.
    Bool(bool),
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
    fields: &'a Fields,
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
            if name.is_empty() {
                return Err(format!("Expected a field at position {start}."));
            }
            match self.fields.named(name) {
                Some((name, t)) => Field::Named(name, t),
                None => {
                    return Err(format!(
                        "Field '{name}' is not supported for search on {}: use {}.",
                        self.fields.object,
                        self.fields.names()
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
            Op::Contains
        } else {
            return Err(format!(
                "Expected an operator (:, ~, >, >=, <, <=) after the field at position {start}."
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
            } else if word == "true" || word == "false" {
                Value::Bool(word == "true")
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
        let value = check_value(&field, op, value)?;
        Ok(Clause {
            negated,
            field,
            op,
            value,
        })
    }
}

/// The value as the field's type takes it, or why the clause cannot be.
fn check_value(field: &Field, op: Op, value: Value) -> Result<Value, String> {
    let (name, t) = match field {
        Field::Named(name, t) => (*name, *t),
        Field::Metadata(_) => ("metadata", EXACT),
    };
    if op == Op::Contains {
        let Type::Text { substring: true } = t else {
            return Err(format!(
                "Substring matching (~) is not supported on the field {name}."
            ));
        };
        return match value {
            Value::Str(v) if v.chars().count() >= MIN_SUBSTRING_CHARS => Ok(Value::Str(v)),
            Value::Str(_) => Err(format!(
                "A substring (~) value must be at least {MIN_SUBSTRING_CHARS} characters."
            )),
            _ => Err("A substring (~) value is a quoted string.".into()),
        };
    }
    let comparison = op != Op::Eq;
    match (t, value) {
        (_, Value::Null) if comparison => Err("null is matched only with ':'.".into()),
        (_, Value::Null) => Ok(Value::Null),
        (Type::Int, Value::Int(n)) => Ok(Value::Int(n)),
        (Type::Int, _) => Err(format!("{name} is compared with integers.")),
        (_, _) if comparison => Err(format!(
            "Comparison operators (>, >=, <, <=) do not apply to the field {name}."
        )),
        (Type::Bool, Value::Str(v)) => match v.to_ascii_lowercase().as_str() {
            "true" => Ok(Value::Bool(true)),
            "false" => Ok(Value::Bool(false)),
            _ => Err(format!(
                "{name} is matched with 'true' or 'false', not {v:?}."
            )),
        },
        (Type::Bool, Value::Bool(b)) => Ok(Value::Bool(b)),
        (Type::Bool, Value::Int(n)) => Err(format!(
            "{name} is matched with 'true' or 'false', not {n}."
        )),
        (Type::Text { .. }, Value::Str(v)) => Ok(Value::Str(v)),
        (Type::Text { .. }, Value::Int(n)) => Err(format!(
            "The value {n} must be quoted: string values are written \"{n}\"."
        )),
        (Type::Text { .. }, Value::Bool(b)) => Err(format!(
            "The value {b} must be quoted: string values are written \"{b}\"."
        )),
    }
}

/// Parse `text` as a search of the objects `fields` describes; the error is a sentence for
/// the developer (Stripe's 400 on `query`).
pub fn parse(text: &str, fields: &Fields) -> Result<Query, String> {
    let mut p = Parser {
        s: text,
        at: 0,
        fields,
    };
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

    fn parse_pi(q: &str) -> Result<Query, String> {
        parse(q, &PAYMENT_INTENTS)
    }

    #[test]
    fn stripe_queries_parse() {
        let q = parse_pi("status:'succeeded' AND metadata['order_id']:'6735'").unwrap();
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
        let q = parse_pi(r#"amount>1000 -currency:"usd" created<=1620310503"#).unwrap();
        assert_eq!(q.join, Join::And);
        assert_eq!(q.clauses.len(), 3);
        assert!(q.clauses[1].negated);
        assert_eq!(q.clauses[2].op, Op::Lte);
        let q = parse_pi(r#"customer:"cus_a" or customer:'cus_\'b'"#).unwrap();
        assert_eq!(q.join, Join::Or);
        assert_eq!(q.clauses[1].value, Value::Str("cus_'b".into()));
        assert_eq!(
            parse_pi("customer:null").unwrap().clauses[0].value,
            Value::Null
        );
        let q = parse(
            "email~'example' -name:\"Taro\" metadata['k']:'v'",
            &CUSTOMERS,
        )
        .unwrap();
        assert_eq!(
            (q.clauses[0].op, &q.clauses[0].field),
            (Op::Contains, &Field::Named("email", SUBSTRING))
        );
        let q = parse("active:'true' OR shippable:false", &PRODUCTS).unwrap();
        assert_eq!(q.clauses[0].value, Value::Bool(true));
        assert_eq!(q.clauses[1].value, Value::Bool(false));
    }

    #[test]
    fn bad_queries_say_why() {
        for (q, says) in [
            ("", "empty"),
            ("status:'a' AND amount>1 OR amount<5", "cannot be combined"),
            ("email:'x'", "not supported"),
            ("status:succeeded", "must be quoted"),
            ("status>'a'", "do not apply to the field status"),
            ("amount:'12'", "integers"),
            ("status:'open", "closing"),
            ("metadata[k]:'v'", "metadata['key']"),
            ("customer~'cus'", "Substring"),
            ("status", "operator"),
        ] {
            let e = parse_pi(q).unwrap_err();
            assert!(e.contains(says), "{q}: {e}");
        }
        for (q, fields, says) in [
            ("email~'ab'", &CUSTOMERS, "at least 3"),
            (
                "metadata['k']~'abc'",
                &CUSTOMERS,
                "not supported on the field metadata",
            ),
            ("active:'maybe'", &PRODUCTS, "'true' or 'false'"),
            (
                "created~'123'",
                &CUSTOMERS,
                "not supported on the field created",
            ),
            ("amount>1", &PRICES, "not supported for search on prices"),
        ] {
            let e = parse(q, fields).unwrap_err();
            assert!(e.contains(says), "{q}: {e}");
        }
        let eleven = ["amount>1"; 11].join(" ");
        assert!(parse_pi(&eleven).unwrap_err().contains("at most 10"));
    }
}
