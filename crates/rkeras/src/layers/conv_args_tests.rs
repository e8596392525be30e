//! Tests of the shared convolution and pooling arguments: `Pair`, `DataFormat`, padding names
//! and `Window` checks and geometry.

use super::*;

#[test]
fn pairs_formats_and_paddings() {
    assert_eq!(Pair::from(3), Pair(3, 3));
    assert_eq!(Pair::from((3, 5)).to_json(), json!([3, 5]));
    assert_eq!(parse_padding("l", "SAME").unwrap(), Padding::Same);
    let e = parse_padding("conv2d_3", "vaild").unwrap_err().to_string();
    assert_eq!(
        e,
        "conv2d_3: argument `padding`: expected one of \"valid\", \"same\". Received: padding=vaild"
    );
    let e = DataFormat::parse("c", "nchw").unwrap_err().to_string();
    assert!(e.contains("data_format") && e.contains("nchw"), "{e}");
    let cf = DataFormat::ChannelsFirst;
    assert_eq!(
        cf.split("c", &[None, Some(3), Some(8), Some(9)]).unwrap(),
        [None, Some(8), Some(9), Some(3)]
    );
    assert_eq!(
        cf.join([None, Some(6), Some(7), Some(4)]),
        vec![None, Some(4), Some(6), Some(7)]
    );
}

#[test]
fn window_checks_and_unknown_sizes() {
    let e = Window::new(
        "c",
        "kernel_size",
        Pair(0, 3),
        Pair(1, 1),
        Pair(1, 1),
        "valid",
        "channels_last",
    )
    .unwrap_err()
    .to_string();
    assert!(e.contains("kernel_size") && e.contains("(0, 3)"), "{e}");
    let e = Window::new(
        "c",
        "kernel_size",
        Pair(3, 3),
        Pair(2, 2),
        Pair(2, 1),
        "valid",
        "channels_last",
    )
    .unwrap_err()
    .to_string();
    assert!(e.contains("dilation_rate > 1"), "{e}");
    let w = Window::new(
        "c",
        "kernel_size",
        Pair(3, 3),
        Pair(2, 2),
        Pair(1, 1),
        "same",
        "channels_last",
    )
    .unwrap();
    let (out, _) = w.output("c", &[None, None, Some(7), Some(2)]).unwrap();
    assert_eq!(out, [None, None, Some(4), Some(2)]);
    let v = Window::new(
        "conv2d_3",
        "kernel_size",
        Pair(5, 5),
        Pair(1, 1),
        Pair(1, 1),
        "valid",
        "channels_last",
    )
    .unwrap();
    let e = v
        .output("conv2d_3", &[None, Some(3), Some(3), Some(1)])
        .unwrap_err()
        .to_string();
    assert!(
        e.starts_with("conv2d_3: height: ") && e.contains("(3 + 0 − 5)/1 + 1 < 1"),
        "{e}"
    );
}
