//! Reading values out of a loaded pickle (dict lookups by `str` or `bytes` key, integer
//! lists), and freeing them without recursion.

use super::{bad, Value};
use crate::error::Result;
use std::collections::HashMap;
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

/// The address of a container (its identity in [`has_cycle`]); `None` for a scalar.
fn id(v: &Value) -> Option<usize> {
    match v {
        Value::List(l) => Some(Rc::as_ptr(l) as *const () as usize),
        Value::Tuple(t) => Some(Rc::as_ptr(t) as *const () as usize),
        Value::Dict(d) => Some(Rc::as_ptr(d) as *const () as usize),
        Value::Array(a) => Some(Rc::as_ptr(a) as *const () as usize),
        _ => None,
    }
}

fn children(v: &Value) -> Vec<Value> {
    match v {
        Value::List(l) => l.borrow().clone(),
        Value::Tuple(t) => t.to_vec(),
        Value::Dict(d) => d.borrow().iter().flat_map(|(k, x)| [k.clone(), x.clone()]).collect(),
        Value::Array(a) => a.borrow().objects.clone(),
        _ => Vec::new(),
    }
}

/// Whether any of `roots` reaches itself (a depth-first walk without recursion, each
/// container visited once).
pub(super) fn has_cycle(roots: &[Value]) -> bool {
    // false: on the current path; true: finished.
    let mut seen: HashMap<usize, bool> = HashMap::new();
    for root in roots {
        let Some(rid) = id(root) else { continue };
        if seen.contains_key(&rid) {
            continue;
        }
        seen.insert(rid, false);
        let mut path = vec![(rid, children(root).into_iter())];
        while let Some((node, next)) = path.last_mut() {
            let Some(child) = next.next() else {
                seen.insert(*node, true);
                path.pop();
                continue;
            };
            let Some(cid) = id(&child) else { continue };
            match seen.get(&cid) {
                Some(false) => return true,
                Some(true) => {}
                None => {
                    seen.insert(cid, false);
                    path.push((cid, children(&child).into_iter()));
                }
            }
        }
    }
    false
}

/// Empties every list, dict and array in `made`, so that cycles among them are freed.
pub(super) fn break_cycles(made: &[Value]) {
    for v in made {
        let contents: Vec<Value> = match v {
            Value::List(l) => std::mem::take(&mut *l.borrow_mut()),
            Value::Dict(d) => std::mem::take(&mut *d.borrow_mut())
                .into_iter()
                .flat_map(|(k, x)| [k, x])
                .collect(),
            Value::Array(a) => std::mem::take(&mut a.borrow_mut().objects),
            _ => Vec::new(),
        };
        drop(contents);
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
