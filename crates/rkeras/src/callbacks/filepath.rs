//! Python's `str.format` for checkpoint file paths, as `ModelCheckpoint` uses it:
//! `"ckpt-{epoch:02d}-{val_loss:.2f}.keras".format(epoch=3, val_loss=0.1234)` →
//! `ckpt-03-0.12.keras`. Fields are `{name}` or `{name:spec}` with Python's format spec
//! (`[[fill]align][sign][0][width][.precision][type]`, types `d`, `f`, `e`, `%`, `g`-less
//! defaults), and `{{` / `}}` for braces. Integers are `epoch` / `batch`; log values are
//! floats (an `int` spec on a float is an error, as in Python).

use crate::error::{KerasError, Result};

/// A value a field can name.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Field {
    /// An integer (`epoch`, `batch`).
    Int(i64),
    /// A float (a metric).
    Float(f64),
}

fn err(template: &str, reason: impl std::fmt::Display) -> KerasError {
    KerasError::Invalid(format!(
        "Failed to format this callback filepath: \"{template}\". Reason: {reason}"
    ))
}

/// Formats `template` with the named `fields`.
pub fn format_path(template: &str, fields: &[(&str, Field)]) -> Result<String> {
    let mut out = String::new();
    let mut chars = template.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '{' if chars.peek() == Some(&'{') => {
                chars.next();
                out.push('{');
            }
            '}' if chars.peek() == Some(&'}') => {
                chars.next();
                out.push('}');
            }
            '{' => {
                let mut inner = String::new();
                loop {
                    match chars.next() {
                        Some('}') => break,
                        Some(ch) => inner.push(ch),
                        None => return Err(err(template, "Single '{' encountered in format string")),
                    }
                }
                let (name, spec) = inner.split_once(':').unwrap_or((&inner, ""));
                let value = fields
                    .iter()
                    .find(|(n, _)| *n == name)
                    .map(|(_, v)| *v)
                    .ok_or_else(|| err(template, format!("'{name}'")))?;
                out += &format_field(value, spec).map_err(|e| err(template, e))?;
            }
            '}' => return Err(err(template, "Single '}' encountered in format string")),
            c => out.push(c),
        }
    }
    Ok(out)
}

/// One field with a Python format spec.
fn format_field(v: Field, spec: &str) -> std::result::Result<String, String> {
    let mut s: Vec<char> = spec.chars().collect();
    let (mut fill, mut align) = (' ', None);
    if s.len() >= 2 && "<>^=".contains(s[1]) {
        fill = s[0];
        align = Some(s[1]);
        s.drain(..2);
    } else if !s.is_empty() && "<>^=".contains(s[0]) {
        align = Some(s[0]);
        s.remove(0);
    }
    let mut sign = '-';
    if !s.is_empty() && "+- ".contains(s[0]) {
        sign = s.remove(0);
    }
    if !s.is_empty() && s[0] == '0' {
        fill = '0';
        align = align.or(Some('='));
        s.remove(0);
    }
    let rest: String = s.iter().collect();
    let ty = rest.chars().last().filter(|c| c.is_ascii_alphabetic() || *c == '%');
    let body = match ty {
        Some(_) => &rest[..rest.len() - 1],
        None => &rest[..],
    };
    let (width, precision) = match body.split_once('.') {
        Some((w, p)) => (
            w,
            Some(p.parse::<usize>().map_err(|_| format!("bad precision in '{spec}'"))?),
        ),
        None => (body, None),
    };
    let width: usize = if width.is_empty() {
        0
    } else {
        width
            .parse()
            .map_err(|_| format!("Invalid format specifier '{spec}'"))?
    };
    let (neg, digits) = match (v, ty) {
        (Field::Int(i), None | Some('d')) => {
            if precision.is_some() {
                return Err("Precision not allowed in integer format specifier".into());
            }
            (i < 0, i.unsigned_abs().to_string())
        }
        (Field::Float(_), Some('d')) => {
            return Err("Unknown format code 'd' for object of type 'float'".into());
        }
        (v, ty) => {
            let x = match v {
                Field::Int(i) => i as f64,
                Field::Float(f) => f,
            };
            let a = x.abs();
            let d = match ty {
                Some('f') | Some('F') => format!("{a:.*}", precision.unwrap_or(6)),
                Some('e') | Some('E') => {
                    let t = format!("{a:.*e}", precision.unwrap_or(6));
                    let (m, e) = t.split_once('e').unwrap_or((&t, "0"));
                    let (es, ed) = e.strip_prefix('-').map_or(("+", e), |d| ("-", d));
                    format!("{m}e{es}{ed:0>2}")
                }
                Some('%') => format!("{:.*}%", precision.unwrap_or(6), a * 100.0),
                None if matches!(v, Field::Float(_)) && precision.is_none() => format!("{a:?}"),
                None => format!("{a:.*}", precision.unwrap_or(6)),
                Some(c) => return Err(format!("Unknown format code '{c}' for object of type 'float'")),
            };
            (x.is_sign_negative() && x != 0.0, d)
        }
    };
    let sign_str = match (neg, sign) {
        (true, _) => "-",
        (false, '+') => "+",
        (false, ' ') => " ",
        _ => "",
    };
    let len = sign_str.len() + digits.chars().count();
    let pad = width.saturating_sub(len);
    let numeric = matches!(v, Field::Int(_) | Field::Float(_));
    Ok(match align.unwrap_or(if numeric { '>' } else { '<' }) {
        '<' => format!("{sign_str}{digits}{}", fill.to_string().repeat(pad)),
        '^' => {
            let l = pad / 2;
            format!(
                "{}{sign_str}{digits}{}",
                fill.to_string().repeat(l),
                fill.to_string().repeat(pad - l)
            )
        }
        '=' => format!("{sign_str}{}{digits}", fill.to_string().repeat(pad)),
        _ => format!("{}{sign_str}{digits}", fill.to_string().repeat(pad)),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Expected strings from Python 3.11: `template.format(epoch=3, val_loss=0.12345, batch=7)`.
    #[test]
    fn python_format_cases() {
        let f = [
            ("epoch", Field::Int(3)),
            ("val_loss", Field::Float(0.12345)),
            ("batch", Field::Int(7)),
        ];
        for (t, want) in [
            ("ckpt-{epoch:02d}-{val_loss:.2f}.keras", "ckpt-03-0.12.keras"),
            ("m{epoch}.weights.h5", "m3.weights.h5"),
            ("{val_loss}", "0.12345"),
            ("{val_loss:.3e}", "1.235e-01"),
            ("{epoch:>4}|{epoch:<4}|{epoch:^5}|{epoch:+d}", "   3|3   |  3  |+3"),
            ("{{epoch}}-{batch:03}", "{epoch}-007"),
            ("{epoch:.2f}", "3.00"),
            ("{val_loss:08.3f}", "0000.123"),
            ("{val_loss:.1%}", "12.3%"),
        ] {
            assert_eq!(format_path(t, &f).unwrap(), want, "{t}");
        }
        let e = format_path("m-{val_acc:.2f}.keras", &f).unwrap_err().to_string();
        assert_eq!(
            e,
            "Failed to format this callback filepath: \"m-{val_acc:.2f}.keras\". Reason: 'val_acc'"
        );
        assert!(format_path("{val_loss:02d}", &f)
            .unwrap_err()
            .to_string()
            .contains("Unknown format code 'd'"));
        assert!(format_path("{epoch", &f).is_err());
        assert!(format_path("a}b", &f).is_err());
    }
}
