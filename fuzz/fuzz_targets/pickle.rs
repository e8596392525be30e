//! Pickle bytes (CIFAR's python batches, IMDB's object arrays) through the restricted
//! unpickler `datasets::pickle::load`, then read back as the CIFAR and IMDB readers do (dict
//! lookups by key, integer lists, an array's numeric values and its objects' lists): an error
//! or a value, never a panic; memory bounded by the input.
#![no_main]
use libfuzzer_sys::fuzz_target;
use rkeras::datasets::pickle::{self, Value};

const NAME: &str = "fuzz.pkl";

/// What the readers do with an array: CIFAR checks dtype, shape and bytes; IMDB turns each
/// object into a list of word indices.
fn array(v: &Value) {
    if let Value::Array(a) = v {
        let a = a.borrow();
        let _ = a.dtype.as_ref().map(|d| (d.code.ends_with("u1"), d.order));
        let _ = (a.shape.len(), a.shape.first(), a.bytes.len());
        let _ = a.to_f64(NAME);
        let seqs: Vec<Vec<i64>> = a.objects.iter().filter_map(|o| o.to_ints(NAME).ok()).collect();
        let _ = seqs.iter().map(Vec::len).sum::<usize>();
    }
}

fuzz_target!(|data: &[u8]| {
    let Ok(v) = pickle::load(data, NAME) else { return };
    // CIFAR-10/100 batch: a dict with `data` (uint8 array) and labels (list of ints).
    for key in ["data", "labels", "fine_labels", "coarse_labels", "filenames"] {
        if let Some(x) = v.get(key) {
            let _ = x.to_ints(NAME);
            let _ = x.as_int(NAME);
            array(&x);
        }
    }
    // IMDB: an object ndarray of lists.
    let _ = v.to_ints(NAME);
    let _ = v.as_int(NAME);
    array(&v);
});
