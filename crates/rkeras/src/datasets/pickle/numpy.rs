//! The numpy side of the restricted pickle reader: what `_reconstruct`, `numpy.dtype` and
//! `_codecs.encode` mean when a pickle applies them (REDUCE), how an array's state is set
//! (BUILD), and numeric array values.

use super::{bad, Dtype, NdArray, Value};
use crate::error::Result;
use std::cell::RefCell;
use std::rc::Rc;

pub(super) fn reduce(f: Value, args: Value, name: &str) -> Result<Value> {
    let (Value::Global(g), Value::Tuple(args)) = (&f, &args) else {
        return Err(bad(name, "REDUCE of something that is not an allowed global"));
    };
    match (g.0.as_str(), g.1.as_str()) {
        (_, "_reconstruct") => Ok(Value::Array(Default::default())),
        ("numpy", "dtype") => match args.first().and_then(Value::text) {
            Some(code) => Ok(Value::Dtype(Rc::new(RefCell::new(Dtype { code, order: '|' })))),
            None => Err(bad(name, "numpy.dtype needs a type code")),
        },
        ("_codecs", "encode") => match args.first() {
            // Protocol 2 writes `bytes` as the latin-1 text of its bytes.
            Some(Value::Str(s)) => s
                .chars()
                .map(|c| u8::try_from(c as u32).map_err(|_| bad(name, "latin-1 text above U+00FF")))
                .collect::<Result<Vec<u8>>>()
                .map(|v| Value::Bytes(Rc::new(v))),
            _ => Err(bad(name, "_codecs.encode needs a string")),
        },
        (m, q) => Err(bad(name, format!("`{m}.{q}` cannot be called"))),
    }
}

pub(super) fn build(obj: &Value, state: Value, name: &str) -> Result<()> {
    let Value::Tuple(st) = &state else {
        return Err(bad(name, "BUILD state is not a tuple"));
    };
    match obj {
        Value::Dtype(d) => {
            if let Some(order) = st.get(1).and_then(Value::text) {
                d.borrow_mut().order = order.chars().next().unwrap_or('|');
            }
            Ok(())
        }
        Value::Array(a) => {
            // (version, shape, dtype, is_fortran, data) or without the version.
            let st = if st.len() == 5 { &st[1..] } else { &st[..] };
            let [Value::Tuple(shape), Value::Dtype(dtype), fortran, data] = st else {
                return Err(bad(name, "ndarray state is not (shape, dtype, fortran, data)"));
            };
            if matches!(fortran, Value::Bool(true)) {
                return Err(bad(name, "Fortran-ordered arrays are not supported"));
            }
            let shape = shape
                .iter()
                .map(|v| match v {
                    Value::Int(n) if *n >= 0 => Ok(*n as usize),
                    _ => Err(bad(name, "bad array dimension")),
                })
                .collect::<Result<Vec<usize>>>()?;
            let mut a = a.borrow_mut();
            a.shape = shape;
            a.dtype = Some(dtype.borrow().clone());
            match data {
                Value::Bytes(b) => a.bytes = b.to_vec(),
                Value::List(l) => a.objects = l.borrow().clone(),
                _ => return Err(bad(name, "ndarray data is neither bytes nor a list")),
            }
            Ok(())
        }
        _ => Err(bad(name, "BUILD on an object that is not a numpy array or dtype")),
    }
}

impl NdArray {
    /// Numeric values as `f64` (bool, signed/unsigned ints 1–8 bytes, float 4/8, either
    /// byte order), checked against the shape.
    pub fn to_f64(&self, name: &str) -> Result<Vec<f64>> {
        let dt = self.dtype.as_ref().ok_or_else(|| bad(name, "array without a dtype"))?;
        let code = dt.code.trim_start_matches(['<', '>', '|', '=']);
        let (kind, size) = code.split_at(1.min(code.len()));
        let size: usize = size
            .parse()
            .map_err(|_| bad(name, format!("unsupported dtype {:?}", dt.code)))?;
        if !matches!((kind, size), ("u" | "i", 1 | 2 | 4 | 8) | ("f", 4 | 8) | ("b", 1)) {
            return Err(bad(name, format!("unsupported dtype {:?}", dt.code)));
        }
        let needed = self.shape.iter().try_fold(size, |n, &d| n.checked_mul(d));
        if needed != Some(self.bytes.len()) {
            let needed = needed.map_or("more than 2^64".to_string(), |n| n.to_string());
            return Err(bad(
                name,
                format!(
                    "array of shape {:?} and dtype {:?} needs {needed} bytes, holds {}",
                    self.shape,
                    dt.code,
                    self.bytes.len()
                ),
            ));
        }
        let big = dt.order == '>';
        Ok(self
            .bytes
            .chunks_exact(size)
            .map(|c| {
                let mut b = [0u8; 8];
                b[..size].copy_from_slice(c);
                if big {
                    b[..size].reverse();
                }
                match (kind, size) {
                    ("f", 4) => f32::from_le_bytes([b[0], b[1], b[2], b[3]]) as f64,
                    ("f", _) => f64::from_le_bytes(b),
                    ("i", _) => {
                        let shift = 64 - 8 * size as u32;
                        ((i64::from_le_bytes(b) << shift) >> shift) as f64
                    }
                    _ => u64::from_le_bytes(b) as f64,
                }
            })
            .collect())
    }
}
