//! Stripe's form encoding: `application/x-www-form-urlencoded` bodies (and query strings)
//! whose keys nest with brackets, as the official client libraries send them:
//! `payment_method_options[konbini][expires_after_days]=3`, arrays as
//! `payment_method_types[0]=konbini` or `payment_method_types[]=konbini`, brackets raw or
//! percent-encoded.
//!
//! A [`Form`] keeps the pairs in order with their parsed paths. Each endpoint lists the
//! parameters it knows as patterns (`metadata[*]` for any key, `expand[]` for an array);
//! anything else is Stripe's `parameter_unknown`, naming the parameter as it was sent.

use std::collections::BTreeMap;

use super::error::ApiError;

/// Stripe's metadata limits: keys per object, characters per key, characters per value.
pub const METADATA_MAX_KEYS: usize = 50;
/// See [`METADATA_MAX_KEYS`].
pub const METADATA_MAX_KEY_CHARS: usize = 40;
/// See [`METADATA_MAX_KEYS`].
pub const METADATA_MAX_VALUE_CHARS: usize = 500;

/// One `key=value` pair with the key split at its brackets.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Pair {
    /// The key as sent, after percent-decoding: what error messages name.
    raw: String,
    /// `a[b][0]` is `["a", "b", "0"]`; `a[]` is `["a", ""]`.
    path: Vec<String>,
    value: String,
}

/// Stripe's limit on an object's metadata keys (`keys`: how many it would have).
pub fn check_metadata_keys(keys: usize) -> Result<(), ApiError> {
    if keys > METADATA_MAX_KEYS {
        return Err(ApiError {
            code: None,
            ..ApiError::invalid(
                "parameter_invalid_string",
                "metadata",
                format!(
                    "Invalid metadata: metadata can have up to {METADATA_MAX_KEYS} keys, but you passed in {keys} keys."
                ),
            )
        });
    }
    Ok(())
}

/// A decoded form body or query string.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Form {
    pairs: Vec<Pair>,
}

/// Split `a[b][c]` into its segments; `None` when the brackets do not pair up.
fn split_key(key: &str) -> Option<Vec<String>> {
    let (head, mut rest) = match key.find('[') {
        Some(i) => (&key[..i], &key[i..]),
        None => (key, ""),
    };
    if head.is_empty() {
        return None;
    }
    let mut path = vec![head.to_owned()];
    while !rest.is_empty() {
        let inner = rest.strip_prefix('[')?;
        let close = inner.find(']')?;
        let seg = &inner[..close];
        if seg.contains('[') {
            return None;
        }
        path.push(seg.to_owned());
        rest = &inner[close + 1..];
    }
    Some(path)
}

/// An array index or an empty `[]` segment.
fn is_index(seg: &str) -> bool {
    seg.is_empty() || seg.bytes().all(|b| b.is_ascii_digit())
}

/// The path as a pattern: indices become `[]`.
fn pattern_of(path: &[String]) -> String {
    let mut s = path[0].clone();
    for seg in &path[1..] {
        if is_index(seg) {
            s.push_str("[]");
        } else {
            s.push('[');
            s.push_str(seg);
            s.push(']');
        }
    }
    s
}

/// Whether `pattern` (as [`pattern_of`] makes) matches an allowed one, where `*` stands
/// for any one named segment.
fn matches(allowed: &str, pattern: &str) -> bool {
    if allowed == pattern {
        return true;
    }
    let Some(prefix) = allowed.strip_suffix("[*]") else {
        return false;
    };
    pattern
        .strip_prefix(prefix)
        .and_then(|rest| rest.strip_prefix('['))
        .is_some_and(|rest| {
            rest.strip_suffix(']')
                .is_some_and(|k| !k.is_empty() && !k.contains('[') && !k.contains(']'))
        })
}

/// `p` with its first `n` segments taken off (its raw name rebuilt from what is left).
fn rebased(p: &Pair, n: usize) -> Pair {
    let path = p.path[n..].to_vec();
    let mut raw = path[0].clone();
    for seg in &path[1..] {
        raw.push('[');
        raw.push_str(seg);
        raw.push(']');
    }
    Pair {
        raw,
        path,
        value: p.value.clone(),
    }
}

impl Form {
    /// Decode a body or query string. A key whose brackets do not pair up is refused.
    pub fn parse(bytes: &[u8]) -> Result<Form, ApiError> {
        let mut pairs = Vec::new();
        for (k, v) in form_urlencoded::parse(bytes) {
            let path = split_key(&k).ok_or_else(|| {
                ApiError::invalid(
                    "parameter_unknown",
                    &k,
                    format!("Invalid parameter name: {k} (its brackets do not pair up)"),
                )
            })?;
            pairs.push(Pair {
                raw: k.into_owned(),
                path,
                value: v.into_owned(),
            });
        }
        Ok(Form { pairs })
    }

    /// Refuse any parameter not in `allowed` with Stripe's `parameter_unknown`.
    pub fn check_known(&self, allowed: &[&str]) -> Result<(), ApiError> {
        for p in &self.pairs {
            let pattern = pattern_of(&p.path);
            if !allowed.iter().any(|a| matches(a, &pattern)) {
                return Err(ApiError::invalid(
                    "parameter_unknown",
                    &p.raw,
                    format!("Received unknown parameter: {}", p.raw),
                ));
            }
        }
        Ok(())
    }

    /// The last value sent for a scalar parameter named in bracket notation
    /// (`payment_method_options[konbini][expires_at]`).
    pub fn get(&self, name: &str) -> Option<&str> {
        self.pairs
            .iter()
            .rev()
            .find(|p| pattern_of(&p.path) == name && !p.path.iter().skip(1).any(|s| is_index(s)))
            .map(|p| p.value.as_str())
    }

    /// Whether any parameter at or under `name` was sent.
    pub fn has(&self, name: &str) -> bool {
        self.pairs.iter().any(|p| {
            let pat = pattern_of(&p.path);
            pat == name || pat.starts_with(&format!("{name}["))
        })
    }

    /// A non-empty string parameter; an empty value counts as not sent.
    pub fn string(&self, name: &str) -> Option<&str> {
        self.get(name).filter(|v| !v.is_empty())
    }

    /// An optional string field's update: `None` when not sent (keep it), `Some(None)` when
    /// sent empty (unset it), else the new value.
    pub fn update(&self, name: &str) -> Option<Option<String>> {
        self.get(name)
            .map(|v| (!v.is_empty()).then(|| v.to_owned()))
    }

    /// An integer parameter.
    pub fn int(&self, name: &str) -> Result<Option<i64>, ApiError> {
        match self.string(name) {
            None => Ok(None),
            Some(v) => v
                .parse::<i64>()
                .map(Some)
                .map_err(|_| ApiError::not_integer(name, v)),
        }
    }

    /// A boolean parameter (`true` / `false`).
    pub fn bool(&self, name: &str) -> Result<Option<bool>, ApiError> {
        match self.string(name) {
            None => Ok(None),
            Some("true") => Ok(Some(true)),
            Some("false") => Ok(Some(false)),
            Some(v) => Err(ApiError::invalid(
                "parameter_invalid_boolean",
                name,
                format!("Invalid boolean: {v}"),
            )),
        }
    }

    /// The values of an array parameter `name[0]`, `name[1]`, ... or `name[]`, in index
    /// order (the order sent for `[]`).
    pub fn array(&self, name: &str) -> Vec<&str> {
        let mut items: Vec<(u64, usize, &str)> = self
            .pairs
            .iter()
            .enumerate()
            .filter(|(_, p)| p.path.len() == 2 && p.path[0] == name && is_index(&p.path[1]))
            .map(|(i, p)| (p.path[1].parse().unwrap_or(u64::MAX), i, p.value.as_str()))
            .collect();
        items.sort();
        items.into_iter().map(|(_, _, v)| v).collect()
    }

    /// The entries of a hash parameter `name[key]=value` (metadata), in the order sent; a
    /// later value for the same key wins.
    pub fn map(&self, name: &str) -> Vec<(&str, &str)> {
        let mut out: Vec<(&str, &str)> = Vec::new();
        for p in &self.pairs {
            if p.path.len() == 2 && p.path[0] == name && !is_index(&p.path[1]) {
                out.retain(|(k, _)| *k != p.path[1]);
                out.push((p.path[1].as_str(), p.value.as_str()));
            }
        }
        out
    }

    /// The entries of a hash nested under `prefix` (`default_price_data[metadata]`), in the
    /// order sent; a later value for the same key wins.
    pub fn map_under(&self, prefix: &str) -> Vec<(String, String)> {
        let Some(head) = split_key(prefix) else {
            return Vec::new();
        };
        let mut out: Vec<(String, String)> = Vec::new();
        for p in &self.pairs {
            if p.path.len() == head.len() + 1
                && p.path[..head.len()] == head[..]
                && !is_index(&p.path[head.len()])
            {
                let key = p.path[head.len()].clone();
                out.retain(|(k, _)| *k != key);
                out.push((key, p.value.clone()));
            }
        }
        out
    }

    /// The values of `field` in each element of an array of hashes `name[0][field]`, in
    /// index order.
    pub fn array_of(&self, name: &str, field: &str) -> Vec<&str> {
        let mut items: Vec<(u64, usize, &str)> = self
            .pairs
            .iter()
            .enumerate()
            .filter(|(_, p)| {
                p.path.len() == 3 && p.path[0] == name && is_index(&p.path[1]) && p.path[2] == field
            })
            .map(|(i, p)| (p.path[1].parse().unwrap_or(u64::MAX), i, p.value.as_str()))
            .collect();
        items.sort();
        items.into_iter().map(|(_, _, v)| v).collect()
    }

    /// A `metadata` hash within Stripe's limits (<https://docs.stripe.com/api/metadata>: up
    /// to 50 keys, keys up to 40 characters, values up to 500 characters; an empty value
    /// unsets its key), with Stripe's messages and `param`.
    pub fn metadata(&self) -> Result<BTreeMap<String, String>, ApiError> {
        self.metadata_of("metadata")
    }

    /// A metadata hash sent under `name` (`metadata`, or a nested one such as
    /// `default_price_data[metadata]`), within Stripe's limits, errors naming `name`.
    pub fn metadata_of(&self, name: &str) -> Result<BTreeMap<String, String>, ApiError> {
        let invalid = |message: String| ApiError {
            code: None,
            ..ApiError::invalid("parameter_invalid_string", name, message)
        };
        let entries = self.map_under(name);
        check_metadata_keys(entries.len())?;
        let mut out = BTreeMap::new();
        for (k, v) in entries {
            if k.chars().count() > METADATA_MAX_KEY_CHARS {
                return Err(invalid(format!(
                    "Invalid key: {k} must be a string under {METADATA_MAX_KEY_CHARS} characters"
                )));
            }
            if v.chars().count() > METADATA_MAX_VALUE_CHARS {
                return Err(invalid(format!(
                    "Invalid val: {v} must be a string under {METADATA_MAX_VALUE_CHARS} characters"
                )));
            }
            if !v.is_empty() {
                out.insert(k, v);
            }
        }
        Ok(out)
    }

    /// Stripe's metadata update of an object's `metadata`: keys sent are set, a key sent
    /// empty (`metadata[k]=`) is removed, `metadata=` removes them all; Stripe's limits on
    /// what is sent, then on the object's keys once merged.
    pub fn merge_metadata(&self, metadata: &mut BTreeMap<String, String>) -> Result<(), ApiError> {
        self.metadata()?;
        if self.get("metadata").is_some_and(str::is_empty) {
            metadata.clear();
        }
        for (k, v) in self.map("metadata") {
            if v.is_empty() {
                metadata.remove(k);
            } else {
                metadata.insert(k.to_owned(), v.to_owned());
            }
        }
        check_metadata_keys(metadata.len())
    }

    /// The parameters under the hash `name` (`name[a][b]=v` as `a[b]=v`), e.g. one line
    /// item's `price_data`.
    pub fn under(&self, name: &str) -> Form {
        let Some(head) = split_key(name) else {
            return Form::default();
        };
        let pairs = self
            .pairs
            .iter()
            .filter(|p| p.path.len() > head.len() && p.path[..head.len()] == head[..])
            .map(|p| rebased(p, head.len()))
            .collect();
        Form { pairs }
    }

    /// The hashes of an array `name[0][a]=v`, `name[1][a]=w`: each index's parameters (as
    /// `a=v`), in index order, with the index as sent (for the `param` of an error).
    pub fn items(&self, name: &str) -> Vec<(String, Form)> {
        let mut items: Vec<(u64, String, Form)> = Vec::new();
        for p in &self.pairs {
            if p.path.len() < 3 || p.path[0] != name || !is_index(&p.path[1]) {
                continue;
            }
            let index = p.path[1].clone();
            let pair = rebased(p, 2);
            match items.iter_mut().find(|(_, i, _)| *i == index) {
                Some((_, _, f)) => f.pairs.push(pair),
                None => items.push((
                    index.parse().unwrap_or(u64::MAX),
                    index,
                    Form { pairs: vec![pair] },
                )),
            }
        }
        items.sort_by_key(|(n, _, _)| *n);
        items.into_iter().map(|(_, i, f)| (i, f)).collect()
    }

    /// A fingerprint of the parameters as sent, for idempotency checks: the pairs ordered by
    /// key, so distinct parameters may come in any order, while a key sent more than once
    /// keeps the order of its values (`amount=1200&amount=999999` is another request than
    /// `amount=999999&amount=1200`: a later value wins).
    pub fn fingerprint(&self) -> String {
        let mut keys: Vec<(&str, &str)> = self
            .pairs
            .iter()
            .map(|p| (p.raw.as_str(), p.value.as_str()))
            .collect();
        // A stable sort: equal keys stay in the order they were sent.
        keys.sort_by(|a, b| a.0.cmp(b.0));
        let mut s = String::new();
        for (k, v) in keys {
            s.push_str(k);
            s.push('=');
            s.push_str(v);
            s.push('&');
        }
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nested_brackets_raw_and_percent_encoded_read_the_same() {
        let raw = Form::parse(b"payment_method_options[konbini][expires_after_days]=3").unwrap();
        let enc =
            Form::parse(b"payment_method_options%5Bkonbini%5D%5Bexpires_after_days%5D=3").unwrap();
        for f in [raw, enc] {
            assert_eq!(
                f.int("payment_method_options[konbini][expires_after_days]")
                    .unwrap(),
                Some(3)
            );
        }
    }

    #[test]
    fn arrays_of_hashes_split_into_their_items_in_index_order() {
        let f = Form::parse(
            b"line_items[1][price]=p2&line_items[0][price_data][currency]=jpy\
              &line_items[0][price_data][product_data][metadata][k]=v&line_items[0][quantity]=3\
              &line_items[10][price]=p10&other=x",
        )
        .unwrap();
        let items = f.items("line_items");
        let indices: Vec<&str> = items.iter().map(|(i, _)| i.as_str()).collect();
        assert_eq!(indices, ["0", "1", "10"]);
        let first = &items[0].1;
        assert_eq!(first.int("quantity").unwrap(), Some(3));
        assert_eq!(first.get("price_data[currency]"), Some("jpy"));
        let data = first.under("price_data");
        assert_eq!(data.string("currency"), Some("jpy"));
        assert_eq!(data.under("product_data").map("metadata"), vec![("k", "v")]);
        assert_eq!(items[1].1.string("price"), Some("p2"));
        assert!(!items[1].1.has("quantity"));
        // An item's unknown parameter is named from the item down.
        let e = items[0].1.check_known(&["quantity"]).unwrap_err();
        assert_eq!(e.param.as_deref(), Some("price_data[currency]"));
        assert!(f.items("other").is_empty());
    }

    #[test]
    fn arrays_by_index_or_empty_brackets() {
        let f = Form::parse(b"t[1]=b&t[0]=a").unwrap();
        assert_eq!(f.array("t"), vec!["a", "b"]);
        let f = Form::parse(b"t[]=a&t[]=b").unwrap();
        assert_eq!(f.array("t"), vec!["a", "b"]);
        f.check_known(&["t[]"]).unwrap();
    }

    #[test]
    fn unknown_parameters_are_named_as_sent() {
        let f = Form::parse(b"amount=1&payment_method_options[konbini][tos]=x").unwrap();
        let e = f
            .check_known(&["amount", "payment_method_options[konbini][expires_at]"])
            .unwrap_err();
        assert_eq!(e.code, Some("parameter_unknown"));
        assert_eq!(
            e.param.as_deref(),
            Some("payment_method_options[konbini][tos]")
        );
    }

    #[test]
    fn metadata_limits_are_stripes() {
        let at_limit = format!(
            "{}&metadata[{}]={}",
            (1..50)
                .map(|i| format!("metadata[k{i}]=v"))
                .collect::<Vec<_>>()
                .join("&"),
            "k".repeat(40),
            "値".repeat(500)
        );
        assert_eq!(
            Form::parse(at_limit.as_bytes())
                .unwrap()
                .metadata()
                .unwrap()
                .len(),
            50
        );
        let too_many = (0..51)
            .map(|i| format!("metadata[k{i}]=v"))
            .collect::<Vec<_>>()
            .join("&");
        let e = Form::parse(too_many.as_bytes())
            .unwrap()
            .metadata()
            .unwrap_err();
        assert_eq!(
            (e.param.as_deref(), e.status.as_u16()),
            (Some("metadata"), 400)
        );
        assert!(e.message.contains("51 keys"), "{}", e.message);
        let long_key = format!("metadata[{}]=v", "k".repeat(41));
        assert!(
            Form::parse(long_key.as_bytes())
                .unwrap()
                .metadata()
                .unwrap_err()
                .message
                .starts_with("Invalid key")
        );
        let long_val = format!("metadata[k]={}", "値".repeat(501));
        assert!(
            Form::parse(long_val.as_bytes())
                .unwrap()
                .metadata()
                .unwrap_err()
                .message
                .starts_with("Invalid val")
        );
    }

    #[test]
    fn fingerprint_keeps_the_order_of_repeated_keys_only() {
        let f = |b: &str| Form::parse(b.as_bytes()).unwrap().fingerprint();
        assert_eq!(f("amount=1200&currency=jpy"), f("currency=jpy&amount=1200"));
        assert_ne!(
            f("amount=1200&amount=999999"),
            f("amount=999999&amount=1200")
        );
        assert_ne!(f("amount=1200"), f("amount=1200&amount=999999"));
    }

    #[test]
    fn metadata_updates_merge_unset_and_clear() {
        let mut m = BTreeMap::from([
            ("a".to_owned(), "1".to_owned()),
            ("b".to_owned(), "2".to_owned()),
        ]);
        Form::parse(b"metadata[a]=&metadata[c]=3")
            .unwrap()
            .merge_metadata(&mut m)
            .unwrap();
        assert_eq!(
            m,
            BTreeMap::from([
                ("b".to_owned(), "2".to_owned()),
                ("c".to_owned(), "3".to_owned())
            ])
        );
        Form::parse(b"metadata=")
            .unwrap()
            .merge_metadata(&mut m)
            .unwrap();
        assert!(m.is_empty());
        let mut full: BTreeMap<String, String> =
            (0..50).map(|i| (format!("k{i}"), "v".to_owned())).collect();
        assert!(
            Form::parse(b"metadata[one_more]=v")
                .unwrap()
                .merge_metadata(&mut full)
                .is_err()
        );
    }

    #[test]
    fn nested_hashes_and_arrays_of_hashes_are_read_where_they_are_sent() {
        let f = Form::parse(
            "default_price_data[metadata][a]=1&default_price_data[metadata][a]=2&metadata[b]=3\
             &marketing_features[1][name]=Two&marketing_features[0][name]=One"
                .as_bytes(),
        )
        .unwrap();
        assert_eq!(
            f.metadata_of("default_price_data[metadata]").unwrap(),
            BTreeMap::from([("a".to_owned(), "2".to_owned())])
        );
        assert_eq!(f.metadata().unwrap().len(), 1);
        assert_eq!(f.array_of("marketing_features", "name"), ["One", "Two"]);
        let long = format!("product_data[metadata][k]={}", "x".repeat(501));
        let e = Form::parse(long.as_bytes())
            .unwrap()
            .metadata_of("product_data[metadata]")
            .unwrap_err();
        assert_eq!(e.param.as_deref(), Some("product_data[metadata]"));
        assert_eq!(
            Form::parse(b"name=&url=x").unwrap().update("name"),
            Some(None)
        );
    }

    #[test]
    fn metadata_takes_any_key_but_not_deeper() {
        let f = Form::parse(b"metadata[order]=42&metadata[x]=").unwrap();
        f.check_known(&["metadata[*]"]).unwrap();
        assert_eq!(f.map("metadata"), vec![("order", "42"), ("x", "")]);
        let f = Form::parse(b"metadata[a][b]=1").unwrap();
        assert!(f.check_known(&["metadata[*]"]).is_err());
    }

    #[test]
    fn malformed_keys_and_values_are_refused_with_their_name() {
        assert!(Form::parse(b"a[b=1").is_err());
        assert!(Form::parse(b"[a]=1").is_err());
        let f = Form::parse(b"amount=12x").unwrap();
        let e = f.int("amount").unwrap_err();
        assert_eq!(e.message, "Invalid integer: 12x");
        assert_eq!(e.param.as_deref(), Some("amount"));
        let f = Form::parse(b"confirm=yes").unwrap();
        assert_eq!(
            f.bool("confirm").unwrap_err().param.as_deref(),
            Some("confirm")
        );
    }
}
