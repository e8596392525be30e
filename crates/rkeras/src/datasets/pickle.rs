//! A restricted Python pickle reader, enough for Keras's dataset files: CIFAR's batches
//! (a dict of `bytes` keys, a `uint8` ndarray and lists of ints; Python 2 protocol 2, read as
//! Keras does with `encoding="bytes"`) and the object arrays inside `imdb.npz` (an ndarray of
//! Python lists; protocols 2–5).
//!
//! Like Keras's `RestrictedUnpickler` it runs no code: the only globals it knows are
//! `numpy.ndarray`, `numpy.dtype`, `numpy(._)core.multiarray._reconstruct` and
//! `_codecs.encode` (how protocol 2 spells `bytes`), interpreted here, never called; anything
//! else is refused by name. Lengths are checked against the input before allocating.

use crate::error::{KerasError, Result};
use std::cell::RefCell;
use std::rc::Rc;

/// A value from a pickle stream.
#[derive(Debug, Clone)]
pub enum Value {
    /// `None`.
    None,
    /// `True` / `False`.
    Bool(bool),
    /// An int (that fits in 64 bits).
    Int(i64),
    /// A float.
    Float(f64),
    /// `bytes` (and Python 2 `str`, as Keras reads it with `encoding="bytes"`).
    Bytes(Rc<Vec<u8>>),
    /// `str`.
    Str(Rc<str>),
    /// A list.
    List(Rc<RefCell<Vec<Value>>>),
    /// A tuple.
    Tuple(Rc<Vec<Value>>),
    /// A dict, in insertion order.
    Dict(Rc<RefCell<Vec<(Value, Value)>>>),
    /// One of the allowed globals, not yet applied.
    Global(Rc<(String, String)>),
    /// A numpy dtype.
    Dtype(Rc<RefCell<Dtype>>),
    /// A numpy array.
    Array(Rc<RefCell<NdArray>>),
}

/// A numpy dtype: its code (`u1`, `i8`, `f4`, `O8`, …) and byte order (`<`, `>`, `|`).
#[derive(Debug, Clone, PartialEq)]
pub struct Dtype {
    /// Type code as pickled (`u1`, `i8`, `O8`).
    pub code: String,
    /// Byte order from the dtype's state (`|` when not applicable).
    pub order: char,
}

/// A numpy array rebuilt from a pickle.
#[derive(Debug, Clone, Default)]
pub struct NdArray {
    /// Shape.
    pub shape: Vec<usize>,
    /// Element type; `None` until the array's state is set.
    pub dtype: Option<Dtype>,
    /// Raw little/big-endian bytes for numeric arrays.
    pub bytes: Vec<u8>,
    /// Elements of an object array.
    pub objects: Vec<Value>,
}

fn bad(name: &str, what: impl std::fmt::Display) -> KerasError {
    KerasError::Invalid(format!("{name}: not a readable pickle: {what}"))
}

const ALLOWED: [(&str, &str); 5] = [
    ("numpy", "ndarray"),
    ("numpy", "dtype"),
    ("numpy.core.multiarray", "_reconstruct"),
    ("numpy._core.multiarray", "_reconstruct"),
    ("_codecs", "encode"),
];

struct Reader<'a> {
    b: &'a [u8],
    pos: usize,
    name: &'a str,
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8]> {
        let end = self.pos.checked_add(n).filter(|&e| e <= self.b.len());
        let end = end.ok_or_else(|| bad(self.name, format!("truncated at byte {} (needs {n} more)", self.pos)))?;
        let s = &self.b[self.pos..end];
        self.pos = end;
        Ok(s)
    }
    fn u8(&mut self) -> Result<u8> {
        Ok(self.take(1)?[0])
    }
    fn u32(&mut self) -> Result<usize> {
        let s = self.take(4)?;
        Ok(u32::from_le_bytes([s[0], s[1], s[2], s[3]]) as usize)
    }
    fn u64(&mut self) -> Result<usize> {
        let s = self.take(8)?;
        let v = u64::from_le_bytes([s[0], s[1], s[2], s[3], s[4], s[5], s[6], s[7]]);
        usize::try_from(v).map_err(|_| bad(self.name, "length overflows"))
    }
    fn line(&mut self) -> Result<&'a str> {
        let rest = &self.b[self.pos..];
        let n = rest
            .iter()
            .position(|&c| c == b'\n')
            .ok_or_else(|| bad(self.name, "unterminated line"))?;
        let s = std::str::from_utf8(&rest[..n]).map_err(|_| bad(self.name, "line is not text"))?;
        self.pos += n + 1;
        Ok(s)
    }
}

fn signed_le(bytes: &[u8], name: &str) -> Result<i64> {
    if bytes.len() > 8 {
        return Err(bad(
            name,
            format!("integer of {} bytes does not fit in 64 bits", bytes.len()),
        ));
    }
    let mut v: i64 = 0;
    for (i, &b) in bytes.iter().enumerate() {
        v |= (b as i64) << (8 * i);
    }
    if let Some(&last) = bytes.last() {
        if last & 0x80 != 0 && bytes.len() < 8 {
            v -= 1i64 << (8 * bytes.len());
        }
    }
    Ok(v)
}

/// Runs the pickle in `bytes` (`name` labels errors) and returns its value.
///
/// A structure that contains itself (a list appended to itself through the memo or DUP) is
/// refused: Python's garbage collector frees such cycles, `Rc` would leak them. Every list,
/// dict and array made is kept until the end so that, on any error, their contents are
/// dropped and no cycle outlives the call.
pub fn load(bytes: &[u8], name: &str) -> Result<Value> {
    let mut made = Vec::new();
    let result = run(bytes, name, &mut made);
    let cyclic = result.is_ok() && value::has_cycle(&made);
    if result.is_err() || cyclic {
        value::break_cycles(&made);
    }
    if cyclic {
        return Err(bad(
            name,
            "a list, dict or array contains itself (recursive structures are not supported)",
        ));
    }
    result
}

/// Keeps a handle on a new list, dict or array for [`load`]'s cycle check.
fn made(v: Value, made: &mut Vec<Value>) -> Value {
    if matches!(v, Value::List(_) | Value::Dict(_) | Value::Array(_)) {
        made.push(v.clone());
    }
    v
}

fn run(bytes: &[u8], name: &str, made_: &mut Vec<Value>) -> Result<Value> {
    let mut r = Reader { b: bytes, pos: 0, name };
    let mut stack: Vec<Value> = Vec::new();
    let mut marks: Vec<usize> = Vec::new();
    let mut memo: std::collections::HashMap<usize, Value> = Default::default();
    let pop = |stack: &mut Vec<Value>| stack.pop().ok_or_else(|| bad(name, "stack underflow"));
    let pop_mark = |stack: &mut Vec<Value>, marks: &mut Vec<usize>| -> Result<Vec<Value>> {
        let m = marks.pop().ok_or_else(|| bad(name, "no MARK"))?;
        if m > stack.len() {
            return Err(bad(name, "MARK beyond the stack"));
        }
        Ok(stack.split_off(m))
    };
    loop {
        let op = r.u8()?;
        match op {
            0x80 => {
                r.u8()?;
            }
            0x95 => {
                r.u64()?;
            }
            b'.' => return pop(&mut stack),
            b'(' => marks.push(stack.len()),
            b'0' => {
                pop(&mut stack)?;
            }
            b'1' => {
                pop_mark(&mut stack, &mut marks)?;
            }
            b'2' => {
                let top = stack.last().cloned().ok_or_else(|| bad(name, "stack underflow"))?;
                stack.push(top);
            }
            b'N' => stack.push(Value::None),
            0x88 => stack.push(Value::Bool(true)),
            0x89 => stack.push(Value::Bool(false)),
            b'J' => stack.push(Value::Int(signed_le(r.take(4)?, name)?)),
            b'K' => stack.push(Value::Int(r.u8()? as i64)),
            b'M' => stack.push(Value::Int(signed_le(r.take(2)?, name)? & 0xFFFF)),
            0x8a => {
                let n = r.u8()? as usize;
                stack.push(Value::Int(signed_le(r.take(n)?, name)?));
            }
            0x8b => {
                let n = r.u32()?;
                stack.push(Value::Int(signed_le(r.take(n)?, name)?));
            }
            b'I' | b'L' => {
                let line = r.line()?.trim_end_matches('L');
                let v = match line {
                    "00" => Value::Bool(false),
                    "01" => Value::Bool(true),
                    s => Value::Int(s.parse().map_err(|_| bad(name, format!("bad integer {s:?}")))?),
                };
                stack.push(v);
            }
            b'G' => {
                let s = r.take(8)?;
                stack.push(Value::Float(f64::from_be_bytes([
                    s[0], s[1], s[2], s[3], s[4], s[5], s[6], s[7],
                ])));
            }
            b'T' | b'B' | b'U' | b'C' | 0x8e => {
                let n = match op {
                    b'T' | b'B' => r.u32()?,
                    0x8e => r.u64()?,
                    _ => r.u8()? as usize,
                };
                stack.push(Value::Bytes(Rc::new(r.take(n)?.to_vec())));
            }
            b'X' | 0x8c | 0x8d => {
                let n = match op {
                    b'X' => r.u32()?,
                    0x8d => r.u64()?,
                    _ => r.u8()? as usize,
                };
                let s = std::str::from_utf8(r.take(n)?).map_err(|_| bad(name, "string is not UTF-8"))?;
                stack.push(Value::Str(s.into()));
            }
            b']' => stack.push(made(Value::List(Default::default()), made_)),
            b'l' => {
                let items = pop_mark(&mut stack, &mut marks)?;
                stack.push(made(Value::List(Rc::new(RefCell::new(items))), made_));
            }
            b'a' | b'e' => {
                let items = if op == b'a' {
                    vec![pop(&mut stack)?]
                } else {
                    pop_mark(&mut stack, &mut marks)?
                };
                match stack.last() {
                    Some(Value::List(l)) => l.borrow_mut().extend(items),
                    _ => return Err(bad(name, "APPEND to something that is not a list")),
                }
            }
            b')' => stack.push(Value::Tuple(Rc::new(Vec::new()))),
            b't' => {
                let items = pop_mark(&mut stack, &mut marks)?;
                stack.push(Value::Tuple(Rc::new(items)));
            }
            0x85..=0x87 => {
                let n = (op - 0x84) as usize;
                if stack.len() < n {
                    return Err(bad(name, "stack underflow"));
                }
                let items = stack.split_off(stack.len() - n);
                stack.push(Value::Tuple(Rc::new(items)));
            }
            b'}' => stack.push(made(Value::Dict(Default::default()), made_)),
            b'd' | b's' | b'u' => {
                let items = match op {
                    b'd' => {
                        stack.push(made(Value::Dict(Default::default()), made_));
                        let d = pop(&mut stack)?;
                        let items = pop_mark(&mut stack, &mut marks)?;
                        stack.push(d);
                        items
                    }
                    b's' => {
                        let v = pop(&mut stack)?;
                        let k = pop(&mut stack)?;
                        vec![k, v]
                    }
                    _ => pop_mark(&mut stack, &mut marks)?,
                };
                if items.len() % 2 != 0 {
                    return Err(bad(name, "odd number of dict items"));
                }
                match stack.last() {
                    Some(Value::Dict(d)) => {
                        let mut it = items.into_iter();
                        while let (Some(k), Some(v)) = (it.next(), it.next()) {
                            d.borrow_mut().push((k, v));
                        }
                    }
                    _ => return Err(bad(name, "SETITEM on something that is not a dict")),
                }
            }
            b'c' | 0x93 => {
                let (module, qual) = if op == b'c' {
                    (r.line()?.to_string(), r.line()?.to_string())
                } else {
                    let q = pop(&mut stack)?;
                    let m = pop(&mut stack)?;
                    match (&m, &q) {
                        (Value::Str(m), Value::Str(q)) => (m.to_string(), q.to_string()),
                        _ => return Err(bad(name, "STACK_GLOBAL needs two strings")),
                    }
                };
                if !ALLOWED.contains(&(module.as_str(), qual.as_str())) {
                    return Err(bad(
                        name,
                        format!("refusing to load `{module}.{qual}` (only numpy arrays are allowed in a dataset file)"),
                    ));
                }
                stack.push(Value::Global(Rc::new((module, qual))));
            }
            b'R' => {
                let args = pop(&mut stack)?;
                let f = pop(&mut stack)?;
                stack.push(made(reduce(f, args, name)?, made_));
            }
            b'b' => {
                let state = pop(&mut stack)?;
                let obj = stack.last().ok_or_else(|| bad(name, "stack underflow"))?;
                build(obj, state, name)?;
            }
            b'p' | b'q' | b'r' | 0x94 => {
                let idx = match op {
                    b'p' => r.line()?.parse().map_err(|_| bad(name, "bad PUT index"))?,
                    b'q' => r.u8()? as usize,
                    b'r' => r.u32()?,
                    _ => memo.len(),
                };
                let top = stack.last().cloned().ok_or_else(|| bad(name, "stack underflow"))?;
                memo.insert(idx, top);
            }
            b'g' | b'h' | b'j' => {
                let idx = match op {
                    b'g' => r.line()?.parse().map_err(|_| bad(name, "bad GET index"))?,
                    b'h' => r.u8()? as usize,
                    _ => r.u32()?,
                };
                let v = memo
                    .get(&idx)
                    .cloned()
                    .ok_or_else(|| bad(name, format!("memo {idx} not set")))?;
                stack.push(v);
            }
            other => {
                return Err(bad(
                    name,
                    format!("unsupported opcode 0x{other:02x} at byte {}", r.pos - 1),
                ))
            }
        }
    }
}

mod numpy;
mod value;
use numpy::{build, reduce};

#[cfg(test)]
mod tests;
