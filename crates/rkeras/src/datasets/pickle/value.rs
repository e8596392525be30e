//! Reading values out of a loaded pickle (dict lookups by `str` or `bytes` key, integer
//! lists), and freeing them without recursion.

use super::{bad, Value};
use crate::error::Result;
use std::rc::Rc;

/// Dropping a value frees its children iteratively: a hostile pickle can nest lists a
/// million deep, and the default recursive drop would overflow the stack.
impl Drop for Value {
    fn drop(&mut self) {
        let mut pending = Vec::new();
        detach(self, &mut pending);
        while let Some(mut v) = pending.pop() {
            detach(&mut v, &mut pending);
        }
    }
}

/// Moves the children of a container this value solely owns into `out`.
fn detach(v: &mut Value, out: &mut Vec<Value>) {
    match v {
        Value::List(l) if Rc::strong_count(l) == 1 => out.append(&mut l.borrow_mut()),
        Value::Tuple(t) => {
            if let Some(t) = Rc::get_mut(t) {
                out.append(t);
            }
        }
        Value::Dict(d) if Rc::strong_count(d) == 1 => {
            for (k, x) in d.borrow_mut().drain(..) {
                out.push(k);
                out.push(x);
            }
        }
        Value::Array(a) if Rc::strong_count(a) == 1 => out.append(&mut a.borrow_mut().objects),
        _ => {}
    }
}

impl Value {
    /// A `str`, or a Python 2 `str` read as bytes (ASCII in numpy's type codes).
    pub(super) fn text(&self) -> Option<String> {
        match self {
            Value::Str(s) => Some(s.to_string()),
            Value::Bytes(b) => std::str::from_utf8(b).ok().map(str::to_string),
            _ => None,
        }
    }

    /// The value under `key` (a `str` or `bytes` key) of a dict.
    pub fn get(&self, key: &str) -> Option<Value> {
        let Value::Dict(d) = self else { return None };
        let d = d.borrow();
        d.iter()
            .find(|(k, _)| match k {
                Value::Str(s) => &**s == key,
                Value::Bytes(b) => b.as_slice() == key.as_bytes(),
                _ => false,
            })
            .map(|(_, v)| v.clone())
    }

    /// Integers of a list, tuple or integer ndarray.
    pub fn to_ints(&self, name: &str) -> Result<Vec<i64>> {
        match self {
            Value::List(l) => l.borrow().iter().map(|v| v.as_int(name)).collect(),
            Value::Tuple(t) => t.iter().map(|v| v.as_int(name)).collect(),
            Value::Array(a) => a
                .borrow()
                .to_f64(name)
                .map(|v| v.into_iter().map(|x| x as i64).collect()),
            _ => Err(bad(name, "expected a list of integers")),
        }
    }

    /// An integer.
    pub fn as_int(&self, name: &str) -> Result<i64> {
        match self {
            Value::Int(i) => Ok(*i),
            Value::Bool(b) => Ok(*b as i64),
            _ => Err(bad(name, format!("expected an integer, found {}", self.kind()))),
        }
    }

    fn kind(&self) -> &'static str {
        match self {
            Value::None => "None",
            Value::Bool(_) => "bool",
            Value::Int(_) => "int",
            Value::Float(_) => "float",
            Value::Bytes(_) => "bytes",
            Value::Str(_) => "str",
            Value::List(_) => "list",
            Value::Tuple(_) => "tuple",
            Value::Dict(_) => "dict",
            Value::Global(_) => "global",
            Value::Dtype(_) => "dtype",
            Value::Array(_) => "ndarray",
        }
    }
}
