//! GitHub Actions expressions (`${{ … }}` and `if:`), as documented:
//! literals (`'single quoted'` with `''` for a quote, numbers, true, false,
//! null), context paths (`github.event.inputs.action`, `steps.x.outputs.y`,
//! `a['b']`), `!`, `==` `!=` `<` `<=` `>` `>=` (strings compared without
//! case; mixed types compared as numbers), `&&` and `||` (which return an
//! operand, as in JavaScript), and the functions contains, startsWith,
//! endsWith, format, join, toJSON, fromJSON and the status functions, which
//! the caller answers through `status`.

use serde_json::{Value, json};

/// Evaluate one expression (no `${{ }}` around it).
pub(crate) fn eval(src: &str, ctx: &Value, status: &dyn Fn(&str) -> bool) -> Value {
    let tokens = lex(src).unwrap_or_else(|e| panic!("expression {src:?}: {e}"));
    let mut p = Parser {
        t: &tokens,
        i: 0,
        ctx,
        status,
    };
    let v = p.or();
    assert!(p.i == tokens.len(), "expression {src:?}: unexpected {:?}", tokens.get(p.i));
    v
}

/// Replace every `${{ expr }}` in `text` with its value as a string.
pub(crate) fn interpolate(text: &str, ctx: &Value, status: &dyn Fn(&str) -> bool) -> String {
    let mut out = String::new();
    let mut rest = text;
    while let Some(start) = rest.find("${{") {
        out.push_str(&rest[..start]);
        let end = rest[start..].find("}}").unwrap_or_else(|| panic!("unclosed ${{{{ in {text:?}"));
        let v = eval(&rest[start + 3..start + end], ctx, status);
        out.push_str(&to_string(&v));
        rest = &rest[start + end + 2..];
    }
    out.push_str(rest);
    out
}

pub(crate) fn truthy(v: &Value) -> bool {
    match v {
        Value::Null => false,
        Value::Bool(b) => *b,
        Value::Number(n) => n.as_f64().is_some_and(|f| f != 0.0 && !f.is_nan()),
        Value::String(s) => !s.is_empty(),
        Value::Array(_) | Value::Object(_) => true,
    }
}

fn to_string(v: &Value) -> String {
    match v {
        Value::Null => String::new(),
        Value::String(s) => s.clone(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => n.to_string(),
        other => serde_json::to_string_pretty(other).unwrap(),
    }
}

fn to_number(v: &Value) -> f64 {
    match v {
        Value::Null => 0.0,
        Value::Bool(b) => f64::from(u8::from(*b)),
        Value::Number(n) => n.as_f64().unwrap_or(f64::NAN),
        Value::String(s) if s.trim().is_empty() => 0.0,
        Value::String(s) => s.trim().parse().unwrap_or(f64::NAN),
        _ => f64::NAN,
    }
}

fn compare(a: &Value, b: &Value) -> Option<std::cmp::Ordering> {
    match (a, b) {
        (Value::String(x), Value::String(y)) => Some(x.to_lowercase().cmp(&y.to_lowercase())),
        (Value::Array(_) | Value::Object(_), _) | (_, Value::Array(_) | Value::Object(_)) => (a == b).then_some(std::cmp::Ordering::Equal),
        _ => to_number(a).partial_cmp(&to_number(b)),
    }
}

#[derive(Clone, Debug, PartialEq)]
enum Tok {
    Str(String),
    Num(f64),
    Ident(String),
    Op(&'static str),
}

fn lex(s: &str) -> Result<Vec<Tok>, String> {
    let b: Vec<char> = s.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        if c.is_whitespace() {
            i += 1;
        } else if c == '\'' {
            let mut lit = String::new();
            i += 1;
            loop {
                match b.get(i) {
                    None => return Err("unclosed string".into()),
                    Some('\'') if b.get(i + 1) == Some(&'\'') => {
                        lit.push('\'');
                        i += 2;
                    }
                    Some('\'') => {
                        i += 1;
                        break;
                    }
                    Some(ch) => {
                        lit.push(*ch);
                        i += 1;
                    }
                }
            }
            out.push(Tok::Str(lit));
        } else if c.is_ascii_digit() || (c == '-' && b.get(i + 1).is_some_and(char::is_ascii_digit)) {
            let start = i;
            i += 1;
            while i < b.len() && (b[i].is_ascii_alphanumeric() || b[i] == '.') {
                i += 1;
            }
            let text: String = b[start..i].iter().collect();
            out.push(Tok::Num(text.parse().map_err(|_| format!("bad number {text}"))?));
        } else if c.is_ascii_alphabetic() || c == '_' {
            let start = i;
            while i < b.len() && (b[i].is_ascii_alphanumeric() || b[i] == '_' || b[i] == '-') {
                i += 1;
            }
            out.push(Tok::Ident(b[start..i].iter().collect()));
        } else {
            let two: String = b[i..(i + 2).min(b.len())].iter().collect();
            let op = ["==", "!=", "<=", ">=", "&&", "||"]
                .into_iter()
                .find(|o| *o == two)
                .or_else(|| {
                    ["!", "<", ">", "(", ")", "[", "]", ".", ",", "*"]
                        .into_iter()
                        .find(|o| o.starts_with(c))
                })
                .ok_or_else(|| format!("unexpected character {c:?}"))?;
            i += op.len();
            out.push(Tok::Op(op));
        }
    }
    Ok(out)
}

struct Parser<'a> {
    t: &'a [Tok],
    i: usize,
    ctx: &'a Value,
    status: &'a dyn Fn(&str) -> bool,
}

impl Parser<'_> {
    fn eat(&mut self, op: &str) -> bool {
        if matches!(self.t.get(self.i), Some(Tok::Op(o)) if *o == op) {
            self.i += 1;
            true
        } else {
            false
        }
    }

    fn expect(&mut self, op: &str) {
        assert!(self.eat(op), "expected {op:?} at token {} of {:?}", self.i, self.t);
    }

    fn or(&mut self) -> Value {
        let mut v = self.and();
        while self.eat("||") {
            let r = self.and();
            if !truthy(&v) {
                v = r;
            }
        }
        v
    }

    fn and(&mut self) -> Value {
        let mut v = self.cmp();
        while self.eat("&&") {
            let r = self.cmp();
            if truthy(&v) {
                v = r;
            }
        }
        v
    }

    fn cmp(&mut self) -> Value {
        let mut v = self.unary();
        loop {
            let op = match self.t.get(self.i) {
                Some(Tok::Op(o)) if ["==", "!=", "<", "<=", ">", ">="].contains(o) => *o,
                _ => return v,
            };
            self.i += 1;
            let r = self.unary();
            let ord = compare(&v, &r);
            use std::cmp::Ordering::*;
            v = Value::Bool(match op {
                "==" => ord == Some(Equal),
                "!=" => ord != Some(Equal),
                "<" => ord == Some(Less),
                "<=" => matches!(ord, Some(Less | Equal)),
                ">" => ord == Some(Greater),
                _ => matches!(ord, Some(Greater | Equal)),
            });
        }
    }

    fn unary(&mut self) -> Value {
        if self.eat("!") {
            return Value::Bool(!truthy(&self.unary()));
        }
        self.primary()
    }

    fn primary(&mut self) -> Value {
        let tok = self.t.get(self.i).cloned().expect("an expression ends early");
        self.i += 1;
        match tok {
            Tok::Str(s) => Value::String(s),
            Tok::Num(n) => json!(n),
            Tok::Op("(") => {
                let v = self.or();
                self.expect(")");
                v
            }
            Tok::Ident(id) if self.eat("(") => self.call(&id),
            Tok::Ident(id) => match id.as_str() {
                "true" => Value::Bool(true),
                "false" => Value::Bool(false),
                "null" => Value::Null,
                _ => {
                    let mut v = self.ctx.get(&id).cloned().unwrap_or(Value::Null);
                    loop {
                        if self.eat(".") {
                            match self.t.get(self.i).cloned() {
                                Some(Tok::Ident(k)) => {
                                    self.i += 1;
                                    v = v.get(&k).cloned().unwrap_or(Value::Null);
                                }
                                Some(Tok::Op("*")) => {
                                    self.i += 1;
                                    v = match v {
                                        Value::Object(m) => Value::Array(m.into_iter().map(|(_, x)| x).collect()),
                                        other => other,
                                    };
                                }
                                other => panic!("unexpected {other:?} after ."),
                            }
                        } else if self.eat("[") {
                            let k = self.or();
                            self.expect("]");
                            v = match (&v, &k) {
                                (Value::Array(a), _) => a.get(to_number(&k) as usize).cloned().unwrap_or(Value::Null),
                                (Value::Object(m), _) => m
                                    .iter()
                                    .find(|(key, _)| key.eq_ignore_ascii_case(&to_string(&k)))
                                    .map(|(_, x)| x.clone())
                                    .unwrap_or(Value::Null),
                                _ => Value::Null,
                            };
                        } else {
                            return v;
                        }
                    }
                }
            },
            other => panic!("unexpected {other:?}"),
        }
    }

    fn call(&mut self, name: &str) -> Value {
        let mut args = Vec::new();
        if !self.eat(")") {
            loop {
                args.push(self.or());
                if self.eat(")") {
                    break;
                }
                self.expect(",");
            }
        }
        let s = |i: usize| to_string(args.get(i).unwrap_or(&Value::Null)).to_lowercase();
        match name.to_ascii_lowercase().as_str() {
            "success" | "failure" | "always" | "cancelled" => Value::Bool((self.status)(&name.to_ascii_lowercase())),
            "contains" => Value::Bool(match &args[0] {
                Value::Array(a) => a.iter().any(|x| compare(x, &args[1]) == Some(std::cmp::Ordering::Equal)),
                _ => s(0).contains(&s(1)),
            }),
            "startswith" => Value::Bool(s(0).starts_with(&s(1))),
            "endswith" => Value::Bool(s(0).ends_with(&s(1))),
            "format" => {
                let mut f = to_string(&args[0]);
                for (i, a) in args.iter().enumerate().skip(1) {
                    f = f.replace(&format!("{{{}}}", i - 1), &to_string(a));
                }
                Value::String(f)
            }
            "join" => {
                let sep = args.get(1).map_or(",".to_string(), to_string);
                match &args[0] {
                    Value::Array(a) => Value::String(a.iter().map(to_string).collect::<Vec<_>>().join(&sep)),
                    other => Value::String(to_string(other)),
                }
            }
            "tojson" => Value::String(serde_json::to_string_pretty(&args[0]).unwrap()),
            "fromjson" => serde_json::from_str(&to_string(&args[0])).expect("fromJSON of valid JSON"),
            other => panic!("the test runner does not implement {other}()"),
        }
    }
}
