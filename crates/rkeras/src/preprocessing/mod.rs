//! Images in: image files ([`image_io`]: `load_img`, `img_to_array`, `array_to_img`,
//! `save_img`, on the pure-Rust `image` crate with Pillow's pixel arithmetic in [`pil`]) and
//! folders of them ([`dataset`]: `image_dataset_from_directory`, streaming batches, with
//! TensorFlow's decode/resize arithmetic in [`tf_image`] and [`tf_resize`]).
//! The augmentation layers' random geometry is in [`transforms`], their pixel ops in
//! [`pixel_map`]. The public names are re-exported from [`crate::utils`] as Keras has them
//! (`keras.utils.load_img`, …).

pub mod dataset;
pub mod image_io;
pub mod pil;
pub mod pixel_map;
pub mod tf_image;
pub mod tf_resize;
pub mod transforms;
