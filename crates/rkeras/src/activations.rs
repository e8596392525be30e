//! Keras activations by name (`"relu"`, `"softmax"`, `"gelu"`, …) for layer arguments:
//! parsing a layer's `activation` argument or its JSON, with errors naming the layer and the
//! argument and listing the valid names, and writing back the name Keras 3 writes. Every
//! layer with an `activation` argument (Dense, Conv2D, …) and the `Activation` layer share
//! this, so names and messages are the same everywhere. The functions themselves (formulas,
//! gradients, `apply` on the tape) are the engine's [`tensor::ops::activation::Activation`].
//!
//! ```
//! use rkeras::activations::{activation_from_keras, ActivationJson, ActivationKind};
//! let a = activation_from_keras("dense", &serde_json::json!("swish")).unwrap();
//! assert_eq!(a, ActivationKind::Swish);
//! assert_eq!(a.to_keras(), serde_json::json!("silu")); // Keras 3 writes the canonical name
//! ```

use crate::config::short;
use crate::error::{arg_error, Result};
use serde_json::Value;

/// A Keras activation function (the engine's enum; `apply(tape, x)` runs it).
pub use tensor::ops::activation::Activation as ActivationKind;

/// The names accepted, for error messages: `"linear", "relu", …`.
pub fn valid_names() -> String {
    ActivationKind::ALL
        .iter()
        .map(|a| format!("\"{}\"", a.name()))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Keras 3's name for an activation: what `keras.activations.serialize` writes. Aliases
/// resolve to the function they name (`swish` → `silu`, `hard_swish` → `hard_silu`).
pub fn keras_name(kind: ActivationKind) -> &'static str {
    match kind {
        ActivationKind::Swish => "silu",
        ActivationKind::HardSwish => "hard_silu",
        other => other.name(),
    }
}

/// Keras 3 JSON of an activation (its name as a string).
pub fn to_keras(kind: ActivationKind) -> Value {
    Value::String(keras_name(kind).to_string())
}

/// JSON writing as a method, so layers can write `self.activation.to_keras()`.
pub trait ActivationJson {
    /// Keras 3 JSON: the canonical name.
    fn to_keras(self) -> Value;
}

impl ActivationJson for ActivationKind {
    fn to_keras(self) -> Value {
        to_keras(self)
    }
}

/// An activation named by a layer argument (`Dense::new(8).activation("relu")`), checked
/// with an error naming the layer and the argument and listing the valid names. `"None"`
/// and the empty string mean linear, as `activation=None` does.
pub fn parse_activation(layer: &str, arg: &str, name: &str) -> Result<ActivationKind> {
    if name.is_empty() || name == "None" {
        return Ok(ActivationKind::Linear);
    }
    ActivationKind::from_name(name).ok_or_else(|| arg_error(layer, arg, format!("one of {}", valid_names()), name))
}

/// The `activation` argument of a Keras layer config: a name (`"relu"`), `null` (linear), or
/// a serialized function object (`{"class_name": "function", "config": "relu", …}`).
pub fn activation_from_keras(layer: &str, value: &Value) -> Result<ActivationKind> {
    let bad = || arg_error(layer, "activation", format!("one of {}", valid_names()), short(value));
    match value {
        Value::Null => Ok(ActivationKind::Linear),
        Value::String(s) => parse_activation(layer, "activation", s),
        Value::Object(o) => {
            let name = match o.get("config") {
                Some(Value::String(s)) => Some(s.as_str()),
                Some(Value::Object(c)) => c.get("name").and_then(Value::as_str),
                _ => None,
            }
            .or_else(|| o.get("class_name").and_then(Value::as_str).filter(|c| *c != "function"));
            parse_activation(layer, "activation", name.ok_or_else(bad)?)
        }
        _ => Err(bad()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn names_round_trip_and_aliases() {
        for k in ActivationKind::ALL {
            let back = activation_from_keras("l", &to_keras(k)).unwrap();
            assert_eq!(keras_name(back), keras_name(k));
        }
        assert_eq!(
            activation_from_keras("l", &json!("swish")).unwrap().to_keras(),
            json!("silu")
        );
        assert_eq!(
            activation_from_keras("l", &json!("hard_swish")).unwrap().to_keras(),
            json!("hard_silu")
        );
        assert_eq!(
            activation_from_keras("l", &Value::Null).unwrap(),
            ActivationKind::Linear
        );
        let obj = json!({"module": "keras.activations", "class_name": "function", "config": "relu", "registered_name": "function"});
        assert_eq!(activation_from_keras("l", &obj).unwrap(), ActivationKind::Relu);
        assert_eq!(
            parse_activation("l", "activation", "None").unwrap(),
            ActivationKind::Linear
        );
    }

    #[test]
    fn unknown_name_names_layer_argument_and_choices() {
        let e = activation_from_keras("dense_3", &json!("relu2"))
            .unwrap_err()
            .to_string();
        assert!(
            e.starts_with("dense_3: argument `activation`: expected one of \"linear\", \"relu\""),
            "{e}"
        );
        assert!(
            e.contains("Received: activation=relu2") && e.contains("\"softmax\""),
            "{e}"
        );
        let e = parse_activation("conv2d", "activation", "Relu")
            .unwrap_err()
            .to_string();
        assert!(e.contains("conv2d") && e.contains("Received: activation=Relu"), "{e}");
        let e = activation_from_keras("dense", &json!(3)).unwrap_err().to_string();
        assert!(e.contains("Received: activation=3"), "{e}");
    }

    #[test]
    fn applies_on_the_tape() {
        let mut tape = tensor::Tape::new();
        let x = tape.constant(tensor::Tensor::new(&[3], vec![-1.0, 0.0, 2.0]).unwrap());
        let y = parse_activation("l", "activation", "relu")
            .unwrap()
            .apply(&mut tape, x)
            .unwrap();
        assert_eq!(tape.value(y).data(), &[0.0, 0.0, 2.0]);
    }
}
