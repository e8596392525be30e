//! What the applications tests share: Keras's constructor arguments (as the reference
//! scripts record them in their index) turned into [`AppOptions`], shapes from JSON, and the
//! first differing line of two summaries.
#![allow(dead_code)]

use rkeras::applications::{AppOptions, Pooling};
use serde_json::Value;

/// Keras's constructor arguments → options (`weights` must be `None`).
pub fn options(kwargs: &Value) -> AppOptions {
    let mut o = AppOptions::default();
    for (k, v) in kwargs.as_object().expect("kwargs object") {
        match k.as_str() {
            "weights" => assert!(v.is_null(), "only weights=None is supported"),
            "include_top" => o.include_top = v.as_bool().expect("bool"),
            "pooling" => o.pooling = Pooling::parse(v.as_str().unwrap_or("none")).expect("pooling"),
            "classes" => o.classes = Some(v.as_u64().expect("classes") as usize),
            "classifier_activation" => o.classifier_activation = v.as_str().map(str::to_string),
            "alpha" => o.alpha = v.as_f64().expect("alpha"),
            "depth_multiplier" => o.depth_multiplier = v.as_u64().expect("depth_multiplier") as usize,
            "minimalistic" => o.minimalistic = v.as_bool().expect("bool"),
            "include_preprocessing" => o.include_preprocessing = v.as_bool().expect("bool"),
            "dropout_rate" => o.dropout_rate = v.as_f64(),
            "input_shape" => {
                let d: Vec<usize> = v
                    .as_array()
                    .expect("input_shape")
                    .iter()
                    .map(|x| x.as_u64().expect("dim") as usize)
                    .collect();
                o.input_shape = Some((d[0], d[1], d[2]));
            }
            other => panic!("unhandled constructor argument {other}"),
        }
    }
    o
}

/// A JSON shape (`[null, 224, 224, 3]`) as ours.
pub fn shape_of(v: &Value) -> Vec<Option<usize>> {
    v.as_array()
        .expect("shape")
        .iter()
        .map(|d| d.as_u64().map(|x| x as usize))
        .collect()
}

/// The first differing line, for a readable failure.
pub fn diff(got: &str, want: &str) -> String {
    for (i, (g, w)) in got.lines().zip(want.lines()).enumerate() {
        if g != w {
            return format!("line {}:\n  got:  {g:?}\n  want: {w:?}", i + 1);
        }
    }
    format!(
        "line counts differ: got {}, want {}",
        got.lines().count(),
        want.lines().count()
    )
}
