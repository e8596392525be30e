//! Reading Keras layer configs (the `config` object of a layer's JSON) with errors that name
//! the layer and the argument. Accepts what Keras 3 and tf-keras 2 both write: `kernel_size`
//! as `3` or `[3, 3]`, `dtype` as a string or a `DTypePolicy` object, initializers as a name
//! or a `{class_name, config}` object.
//!
//! Also Keras's process-wide settings of `keras.config`: [`enable_determinism`].

use crate::error::{arg_error, KerasError, Result};
use serde_json::{Map, Value};

/// Keras 3's `keras.config.enable_determinism()`: from now on every parallel reduction of the
/// engine (convolution weight and bias gradients, BatchNormalization's statistics, the sums of
/// losses and metrics) runs in a fixed order that does not depend on the number of threads,
/// so training is bit-for-bit reproducible across runs and across `RAYON_NUM_THREADS` values
/// (with the same seed). It costs some speed (see the README); `rkeras train --deterministic`
/// sets it.
pub fn enable_determinism() {
    tensor::enable_determinism();
}

/// Turns deterministic mode off again (the default: the engine's adaptive reductions).
pub fn disable_determinism() {
    tensor::disable_determinism();
}

/// Whether [`enable_determinism`] is in force.
pub fn is_determinism_enabled() -> bool {
    tensor::is_deterministic()
}

/// A layer config being read: the JSON object and the layer's name for messages.
pub struct ConfigReader<'a> {
    /// The layer's class name.
    pub class_name: &'a str,
    /// The layer's name (or its class name when it has none).
    pub layer: String,
    obj: &'a Map<String, Value>,
}

impl<'a> ConfigReader<'a> {
    /// A reader over a `config` object.
    pub fn new(class_name: &'a str, config: &'a Value) -> Result<ConfigReader<'a>> {
        let obj = config.as_object().ok_or_else(|| {
            KerasError::Config(format!(
                "{class_name}: expected the layer's config to be a JSON object, received {}",
                short(config)
            ))
        })?;
        let layer = obj
            .get("name")
            .and_then(Value::as_str)
            .unwrap_or(class_name)
            .to_string();
        Ok(ConfigReader { class_name, layer, obj })
    }

    /// The raw value of a field, if present and not null.
    pub fn get(&self, key: &str) -> Option<&'a Value> {
        self.obj.get(key).filter(|v| !v.is_null())
    }

    /// The layer's name if given.
    pub fn name(&self) -> Option<String> {
        self.get("name").and_then(Value::as_str).map(str::to_string)
    }

    fn bad(&self, key: &str, expected: &str) -> KerasError {
        arg_error(
            &self.layer,
            key,
            expected,
            self.get(key).map_or("None".to_string(), short),
        )
    }

    /// A required field is missing.
    pub fn missing(&self, key: &str) -> KerasError {
        KerasError::Config(format!(
            "{} ({}): missing required field `{key}`",
            self.layer, self.class_name
        ))
    }

    /// A non-negative integer.
    pub fn usize(&self, key: &str) -> Result<Option<usize>> {
        match self.get(key) {
            None => Ok(None),
            Some(v) => v
                .as_u64()
                .map(|x| Some(x as usize))
                .ok_or_else(|| self.bad(key, "a non-negative integer")),
        }
    }

    /// A required non-negative integer.
    pub fn usize_req(&self, key: &str) -> Result<usize> {
        self.usize(key)?.ok_or_else(|| self.missing(key))
    }

    /// A signed integer (axis arguments).
    pub fn isize(&self, key: &str) -> Result<Option<isize>> {
        match self.get(key) {
            None => Ok(None),
            Some(v) => v
                .as_i64()
                .map(|x| Some(x as isize))
                .ok_or_else(|| self.bad(key, "an integer")),
        }
    }

    /// A number.
    pub fn f64(&self, key: &str) -> Result<Option<f64>> {
        match self.get(key) {
            None => Ok(None),
            Some(v) => v.as_f64().map(Some).ok_or_else(|| self.bad(key, "a number")),
        }
    }

    /// A boolean.
    pub fn bool(&self, key: &str) -> Result<Option<bool>> {
        match self.get(key) {
            None => Ok(None),
            Some(v) => v.as_bool().map(Some).ok_or_else(|| self.bad(key, "true or false")),
        }
    }

    /// A string.
    pub fn string(&self, key: &str) -> Result<Option<String>> {
        match self.get(key) {
            None => Ok(None),
            Some(v) => v
                .as_str()
                .map(|s| Some(s.to_string()))
                .ok_or_else(|| self.bad(key, "a string")),
        }
    }

    /// `n` or `[a, b]` → `(a, b)` (Keras's int-or-tuple arguments).
    pub fn pair(&self, key: &str) -> Result<Option<(usize, usize)>> {
        match self.get(key) {
            None => Ok(None),
            Some(Value::Number(n)) => {
                let v = n
                    .as_u64()
                    .ok_or_else(|| self.bad(key, "a non-negative integer or a tuple of 2 integers"))?
                    as usize;
                Ok(Some((v, v)))
            }
            Some(Value::Array(a)) if a.len() == 2 => {
                let x = a[0]
                    .as_u64()
                    .ok_or_else(|| self.bad(key, "a tuple of 2 non-negative integers"))?;
                let y = a[1]
                    .as_u64()
                    .ok_or_else(|| self.bad(key, "a tuple of 2 non-negative integers"))?;
                Ok(Some((x as usize, y as usize)))
            }
            Some(_) => Err(self.bad(key, "an integer or a tuple of 2 integers")),
        }
    }

    /// A list of integers (or nulls, read as `None`).
    pub fn dims(&self, key: &str) -> Result<Option<Vec<Option<usize>>>> {
        match self.get(key) {
            None => Ok(None),
            Some(Value::Array(a)) => a
                .iter()
                .map(|d| match d {
                    Value::Null => Ok(None),
                    v => v
                        .as_u64()
                        .map(|x| Some(x as usize))
                        .ok_or_else(|| self.bad(key, "a list of non-negative integers or nulls")),
                })
                .collect::<Result<Vec<_>>>()
                .map(Some),
            Some(_) => Err(self.bad(key, "a list of integers")),
        }
    }

    /// A list of signed integers (Reshape's target shape with -1, Permute's dims).
    pub fn ints(&self, key: &str) -> Result<Option<Vec<i64>>> {
        match self.get(key) {
            None => Ok(None),
            Some(Value::Array(a)) => a
                .iter()
                .map(|d| d.as_i64().ok_or_else(|| self.bad(key, "a list of integers")))
                .collect::<Result<Vec<_>>>()
                .map(Some),
            Some(_) => Err(self.bad(key, "a list of integers")),
        }
    }

    /// The `trainable` flag (default true).
    pub fn trainable(&self) -> Result<bool> {
        Ok(self.bool("trainable")?.unwrap_or(true))
    }

    /// The dtype, which must be float32 (`"float32"` or a DTypePolicy named float32).
    pub fn check_dtype(&self) -> Result<()> {
        let name = match self.get("dtype") {
            None => return Ok(()),
            Some(Value::String(s)) => s.clone(),
            Some(Value::Object(o)) => o
                .get("config")
                .and_then(|c| c.get("name"))
                .and_then(Value::as_str)
                .unwrap_or("float32")
                .to_string(),
            Some(_) => return Err(self.bad("dtype", "a dtype name or a DTypePolicy")),
        };
        if name != "float32" {
            return Err(arg_error(
                &self.layer,
                "dtype",
                "float32 (rkeras computes in float32)",
                name,
            ));
        }
        Ok(())
    }
}

/// A value shown briefly in an error.
pub fn short(v: &Value) -> String {
    let s = v.to_string();
    if s.chars().count() > 80 {
        format!("{}…", s.chars().take(80).collect::<String>())
    } else {
        s
    }
}

/// Keras 3's `{"module", "class_name", "config", "registered_name"}` wrapper.
pub fn keras_object(module: &str, class_name: &str, config: Value) -> Value {
    serde_json::json!({ "module": module, "class_name": class_name, "config": config, "registered_name": null })
}

/// Keras 3's float32 DTypePolicy object.
pub fn dtype_policy() -> Value {
    keras_object("keras", "DTypePolicy", serde_json::json!({ "name": "float32" }))
}
