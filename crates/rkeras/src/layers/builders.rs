//! The builder-method macros of the layer configs: `Conv2D::new(32, 3).strides(2)
//! .padding("same").kernel_regularizer(Regularizer::l2(1e-4))` is one macro line per group of
//! fields in each config's `impl` (`setters!` for fields set from anything convertible,
//! `opt_setters!` for optional ones, `plain_setters!` for plain values). Re-exported from
//! `common.rs`, where the layer files import them.

/// Builder methods setting fields from anything convertible (`.strides(2)`, `.padding("same")`).
macro_rules! setters {
    ($($field:ident: $ty:ty),* $(,)?) => {
        $(
            #[doc = concat!("Sets `", stringify!($field), "`.")]
            pub fn $field(mut self, v: impl Into<$ty>) -> Self {
                self.$field = v.into();
                self
            }
        )*
    };
}

/// Builder methods setting optional fields (`.kernel_regularizer(Regularizer::l2(1e-4))`).
macro_rules! opt_setters {
    ($($field:ident: $ty:ty),* $(,)?) => {
        $(
            #[doc = concat!("Sets `", stringify!($field), "`.")]
            pub fn $field(mut self, v: impl Into<$ty>) -> Self {
                self.$field = Some(v.into());
                self
            }
        )*
    };
}

/// Builder methods setting plain fields (`.groups(2)`, `.use_bias(false)`).
macro_rules! plain_setters {
    ($($field:ident: $ty:ty),* $(,)?) => {
        $(
            #[doc = concat!("Sets `", stringify!($field), "`.")]
            pub fn $field(mut self, v: $ty) -> Self {
                self.$field = v;
                self
            }
        )*
    };
}

pub(crate) use opt_setters;
pub(crate) use plain_setters;
pub(crate) use setters;
