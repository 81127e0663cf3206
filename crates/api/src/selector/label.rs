//! Label selectors: `metav1.LabelSelector` and the string form `a=b,c!=d,e in (x,y),!f`.

use super::SelectorError;
use crate::names::{validate_label_key, validate_label_value};
use k8s_openapi::apimachinery::pkg::apis::meta::v1 as meta;
use std::collections::BTreeMap;
use std::fmt;

/// How a requirement compares a label.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Operator {
    /// `key in (a,b)`; also `key=a` and `key==a`.
    In,
    /// `key notin (a,b)`; also `key!=a`.
    NotIn,
    /// `key`
    Exists,
    /// `!key`
    DoesNotExist,
}

/// One requirement on one label key.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Requirement {
    /// The label key.
    pub key: String,
    /// The comparison.
    pub operator: Operator,
    /// The values for In and NotIn, sorted.
    pub values: Vec<String>,
    /// Whether this came from `=`/`==`/`!=` (for printing it back the same way).
    equality: bool,
}

impl Requirement {
    /// A requirement, checking key, values and operator arity as upstream does.
    pub fn new(key: &str, operator: Operator, mut values: Vec<String>) -> Result<Self, SelectorError> {
        if let Some(why) = validate_label_key(key) {
            return Err(SelectorError(format!("key: Invalid value: {key:?}: {why}")));
        }
        match operator {
            Operator::In | Operator::NotIn if values.is_empty() => {
                return Err(SelectorError(
                    "values: Invalid value: []: for 'in', 'notin' operators, values set can't be empty".into(),
                ))
            }
            Operator::Exists | Operator::DoesNotExist if !values.is_empty() => {
                return Err(SelectorError(format!(
                    "values: Invalid value: {values:?}: values set must be empty for exists and does not exist"
                )))
            }
            _ => {}
        }
        for value in &values {
            if let Some(why) = validate_label_value(value) {
                return Err(SelectorError(format!("values[0]: Invalid value: {value:?}: {why}")));
            }
        }
        values.sort();
        values.dedup();
        Ok(Self { key: key.to_string(), operator, values, equality: false })
    }

    /// Whether a label set satisfies this requirement.
    pub fn matches(&self, labels: &BTreeMap<String, String>) -> bool {
        let value = labels.get(&self.key);
        match self.operator {
            Operator::In => value.is_some_and(|v| self.values.contains(v)),
            Operator::NotIn => value.is_none_or(|v| !self.values.contains(v)),
            Operator::Exists => value.is_some(),
            Operator::DoesNotExist => value.is_none(),
        }
    }
}

impl fmt::Display for Requirement {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.operator {
            Operator::In if self.equality && self.values.len() == 1 => write!(f, "{}={}", self.key, self.values[0]),
            Operator::NotIn if self.equality && self.values.len() == 1 => write!(f, "{}!={}", self.key, self.values[0]),
            Operator::In => write!(f, "{} in ({})", self.key, self.values.join(",")),
            Operator::NotIn => write!(f, "{} notin ({})", self.key, self.values.join(",")),
            Operator::Exists => write!(f, "{}", self.key),
            Operator::DoesNotExist => write!(f, "!{}", self.key),
        }
    }
}

/// A parsed label selector: every requirement must hold. Nothing matches a [`LabelSelector::nothing`].
///
/// ```
/// use themelios_api::selector::LabelSelector;
/// use std::collections::BTreeMap;
/// let s = LabelSelector::parse("app=web,tier!=db,env in (prod,staging),!canary").unwrap();
/// let labels = BTreeMap::from([("app".to_string(), "web".to_string()), ("env".to_string(), "prod".to_string())]);
/// assert!(s.matches(&labels));
/// assert!(LabelSelector::parse("app in prod").is_err());
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct LabelSelector {
    requirements: Vec<Requirement>,
    nothing: bool,
}

impl LabelSelector {
    /// Matches every label set.
    pub fn everything() -> Self {
        Self::default()
    }

    /// Matches no label set (what a missing selector means to a controller).
    pub fn nothing() -> Self {
        Self { requirements: Vec::new(), nothing: true }
    }

    /// The requirements.
    pub fn requirements(&self) -> &[Requirement] {
        &self.requirements
    }

    /// Whether this selector matches every label set.
    pub fn is_everything(&self) -> bool {
        !self.nothing && self.requirements.is_empty()
    }

    /// Whether a label set satisfies every requirement.
    pub fn matches(&self, labels: &BTreeMap<String, String>) -> bool {
        !self.nothing && self.requirements.iter().all(|r| r.matches(labels))
    }

    /// Whether an optional label map matches (a missing map is empty).
    pub fn matches_opt(&self, labels: Option<&BTreeMap<String, String>>) -> bool {
        static EMPTY: BTreeMap<String, String> = BTreeMap::new();
        self.matches(labels.unwrap_or(&EMPTY))
    }

    /// The selector a label set spells (`a=b,c=d`, as a Service's or ReplicationController's selector): an
    /// empty set selects everything. A key or value that is not a valid label is left out.
    pub fn from_labels(labels: &BTreeMap<String, String>) -> Self {
        let mut requirements: Vec<Requirement> = labels
            .iter()
            .filter_map(|(key, value)| {
                let mut r = Requirement::new(key, Operator::In, vec![value.clone()]).ok()?;
                r.equality = true;
                Some(r)
            })
            .collect();
        requirements.sort();
        Self { requirements, nothing: false }
    }

    /// This selector with one more requirement.
    pub fn and(mut self, requirement: Requirement) -> Self {
        if !self.requirements.contains(&requirement) {
            self.requirements.push(requirement);
            self.requirements.sort();
        }
        self
    }

    /// Converts `metav1.LabelSelector`; `None` selects nothing, an empty selector everything (upstream's rule).
    pub fn from_k8s(selector: Option<&meta::LabelSelector>) -> Result<Self, SelectorError> {
        let Some(selector) = selector else { return Ok(Self::nothing()) };
        let mut requirements = Vec::new();
        for (key, value) in selector.match_labels.iter().flatten() {
            let mut r = Requirement::new(key, Operator::In, vec![value.clone()])?;
            r.equality = true;
            requirements.push(r);
        }
        for expr in selector.match_expressions.iter().flatten() {
            let operator = match expr.operator.as_str() {
                "In" => Operator::In,
                "NotIn" => Operator::NotIn,
                "Exists" => Operator::Exists,
                "DoesNotExist" => Operator::DoesNotExist,
                other => return Err(SelectorError(format!("{other:?} is not a valid label selector operator"))),
            };
            requirements.push(Requirement::new(&expr.key, operator, expr.values.clone().unwrap_or_default())?);
        }
        requirements.sort();
        Ok(Self { requirements, nothing: false })
    }

    /// Parses the string form: comma-separated `k=v`, `k==v`, `k!=v`, `k in (a,b)`, `k notin (a,b)`, `k`, `!k`.
    pub fn parse(input: &str) -> Result<Self, SelectorError> {
        let mut parser = Parser { chars: input.char_indices().peekable(), input };
        let mut requirements = Vec::new();
        parser.skip_spaces();
        if parser.at_end() {
            return Ok(Self::everything());
        }
        loop {
            requirements.push(parser.requirement()?);
            parser.skip_spaces();
            match parser.next_char() {
                None => break,
                Some((_, ',')) => continue,
                Some((at, c)) => {
                    return Err(parser.error(at, &format!("found '{c}', expected: ',' or 'end of string'")))
                }
            }
        }
        requirements.sort();
        Ok(Self { requirements, nothing: false })
    }
}

impl fmt::Display for LabelSelector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let parts: Vec<String> = self.requirements.iter().map(ToString::to_string).collect();
        f.write_str(&parts.join(","))
    }
}

struct Parser<'a> {
    chars: std::iter::Peekable<std::str::CharIndices<'a>>,
    input: &'a str,
}

impl Parser<'_> {
    /// Upstream's wording: what token was found where something else was expected.
    fn error(&self, _at: usize, what: &str) -> SelectorError {
        SelectorError(format!("unable to parse requirement: {what}"))
    }
    /// The next token, as upstream's lexer would show it in an error.
    fn next_token(&mut self) -> String {
        self.skip_spaces();
        match self.peek() {
            Some(c) if matches!(c, ',' | '(' | ')' | '=') => c.to_string(),
            _ => self.word(),
        }
    }
    fn at_end(&mut self) -> bool {
        self.chars.peek().is_none()
    }
    fn next_char(&mut self) -> Option<(usize, char)> {
        self.chars.next()
    }
    fn peek(&mut self) -> Option<char> {
        self.chars.peek().map(|(_, c)| *c)
    }
    fn position(&mut self) -> usize {
        self.chars.peek().map(|(i, _)| *i).unwrap_or(self.input.len())
    }
    fn skip_spaces(&mut self) {
        while self.peek().is_some_and(char::is_whitespace) {
            self.chars.next();
        }
    }
    fn word(&mut self) -> String {
        let mut out = String::new();
        while let Some(c) = self.peek() {
            if c.is_whitespace() || matches!(c, ',' | '=' | '!' | '(' | ')') {
                break;
            }
            out.push(c);
            self.chars.next();
        }
        out
    }
    fn requirement(&mut self) -> Result<Requirement, SelectorError> {
        self.skip_spaces();
        let at = self.position();
        let negated = self.peek() == Some('!');
        if negated {
            self.chars.next();
            self.skip_spaces();
        }
        let key = self.word();
        if key.is_empty() {
            return Err(self.error(at, "found '', expected: identifier"));
        }
        if negated {
            return Requirement::new(&key, Operator::DoesNotExist, vec![]);
        }
        self.skip_spaces();
        let op_at = self.position();
        match self.peek() {
            None | Some(',') => Requirement::new(&key, Operator::Exists, vec![]),
            Some('=') => {
                self.chars.next();
                if self.peek() == Some('=') {
                    self.chars.next();
                }
                self.equality_value(key, Operator::In)
            }
            Some('!') => {
                self.chars.next();
                if self.next_char().map(|(_, c)| c) != Some('=') {
                    return Err(self.error(op_at, "found '!', expected: '!='"));
                }
                self.equality_value(key, Operator::NotIn)
            }
            Some(_) => {
                let word = self.word();
                let operator = match word.as_str() {
                    "in" => Operator::In,
                    "notin" => Operator::NotIn,
                    other => {
                        return Err(
                            self.error(op_at, &format!("found '{other}', expected: in, notin, =, ==, !=, gt, lt"))
                        )
                    }
                };
                self.skip_spaces();
                if self.peek() != Some('(') {
                    let found = self.next_token();
                    return Err(self.error(op_at, &format!("found '{found}' expected: '('")));
                }
                self.chars.next();
                let mut values = Vec::new();
                loop {
                    self.skip_spaces();
                    values.push(self.word());
                    self.skip_spaces();
                    match self.next_char() {
                        Some((_, ',')) => continue,
                        Some((_, ')')) => break,
                        Some((_, c)) => return Err(self.error(op_at, &format!("found '{c}', expected: ',' or ')'"))),
                        None => return Err(self.error(op_at, "found '', expected: ',' or ')'")),
                    }
                }
                values.retain(|v| !v.is_empty());
                Requirement::new(&key, operator, values)
            }
        }
    }
    fn equality_value(&mut self, key: String, operator: Operator) -> Result<Requirement, SelectorError> {
        self.skip_spaces();
        let value = self.word();
        let mut r = Requirement::new(&key, operator, vec![value])?;
        r.equality = true;
        Ok(r)
    }
}
