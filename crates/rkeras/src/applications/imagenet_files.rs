//! The pretrained files of the families whose Keras code names them after the model
//! (EfficientNet, EfficientNetV2, ConvNeXt: `<model name>.h5` / `_notop.h5`), after
//! MobileNetV3's type, width and `minimalistic`, or by fixed names (NASNet,
//! InceptionResNetV2): file name, address and hash exactly as Keras 3.15 passes them to
//! `get_file` (ConvNeXt's are sha256, the others md5).

/// `(address, file name, hash)` for `app`'s ImageNet weights, or `None` for an
/// application this module does not know. `model` is the model's name (Keras names the
/// EfficientNet and ConvNeXt files after it).
pub(crate) fn file(
    app: &str,
    model: &str,
    include_top: bool,
    alpha: f64,
    minimalistic: bool,
) -> Option<(String, String, String)> {
    const KA: &str = "https://storage.googleapis.com/tensorflow/keras-applications/";
    let pick = |h: (&str, &str)| if include_top { h.0 } else { h.1 }.to_string();
    let named = |base: String, hashes: (&str, &str)| {
        let suffix = if include_top { ".h5" } else { "_notop.h5" };
        Some((
            format!("{base}{model}{suffix}"),
            format!("{model}{suffix}"),
            pick(hashes),
        ))
    };
    if let Some(i) = app.strip_prefix("EfficientNetB") {
        let h = match i {
            "0" => ("902e53a9f72be733fc0bcb005b3ebbac", "50bc09e76180e00e4465e1a485ddc09d"),
            "1" => ("1d254153d4ab51201f1646940f018540", "74c4e6b3e1f6a1eea24c589628592432"),
            "2" => ("b15cce36ff4dcbd00b6dd88e7857a6ad", "111f8e2ac8aa800a7a99e3239f7bfb39"),
            "3" => ("ffd1fdc53d0ce67064dc6a9c7960ede0", "af6d107764bb5b1abb91932881670226"),
            "4" => ("18c95ad55216b8f92d7e70b3a046e2fc", "ebc24e6d6c33eaebbd558eafbeedf1ba"),
            "5" => ("ace28f2a6363774853a83a0b21b9421a", "38879255a25d3c92d5e44e04ae6cec6f"),
            "6" => ("165f6e37dce68623721b423839de8be5", "9ecce42647a20130c1f39a5d4cb75743"),
            "7" => ("8c03f828fec3ef71311cd463b6759d99", "cbcfe4450ddf6f3ad90b1b398090fe4a"),
            _ => return None,
        };
        return named("https://storage.googleapis.com/keras-applications/".into(), h);
    }
    if let Some(v) = app.strip_prefix("EfficientNetV2") {
        let h = match v {
            "B0" => ("21ecbf6da12460d5c40bb2f29ceb2188", "893217f2bb855e2983157299931e43ff"),
            "B1" => ("069f0534ff22adf035c89e2d9547a9dc", "0e80663031ca32d657f9caa404b6ec37"),
            "B2" => ("424e49f28180edbde1e94797771950a7", "1dfe2e7a5d45b6632553a8961ea609eb"),
            "B3" => ("1f1fc43bd98a6e4fd8fdfd551e02c7a0", "f6abf7b5849ac99a89b50dd3fd532856"),
            "S" => ("e1d88a8495beba45748fedd0cecbe016", "af0682fb74e8c54910f2d4393339c070"),
            "M" => ("a3bf6aa3276309f4fc6a34aa114c95cd", "1b8dc055df72dde80d614482840fe342"),
            "L" => ("27e6d408b53c7ebc868fefa357689935", "b0b66b5c863aef5b46e8608fe1711615"),
            _ => return None,
        };
        return named(format!("{KA}efficientnet_v2/"), h);
    }
    if let Some(v) = app.strip_prefix("ConvNeXt") {
        let h = match v {
            "Tiny" => (
                "8ae6e78ce2933352b1ef4008e6dd2f17bc40771563877d156bc6426c7cf503ff",
                "d547c096cabd03329d7be5562c5e14798aa39ed24b474157cef5e85ab9e49ef1",
            ),
            "Small" => (
                "ce1277d8f1ee5a0ef0e171469089c18f5233860ceaf9b168049cb9263fd7483c",
                "6fc8009faa2f00c1c1dfce59feea9b0745eb260a7dd11bee65c8e20843da6eab",
            ),
            "Base" => (
                "52cbb006d3dadd03f6e095a8ca1aca47aecdd75acb4bc74bce1f5c695d0086e6",
                "40a20c5548a5e9202f69735ecc06c990e6b7c9d2de39f0361e27baeb24cb7c45",
            ),
            "Large" => (
                "070c5ed9ed289581e477741d3b34beffa920db8cf590899d6d2c67fba2a198a6",
                "96f02b6f0753d4f543261bc9d09bed650f24dd6bc02ddde3066135b63d23a1cd",
            ),
            "XLarge" => (
                "c1f5ccab661354fc3a79a10fa99af82f0fbf10ec65cb894a3ae0815f17a889ee",
                "de3f8a54174130e0cecdc71583354753d557fcf1f4487331558e2a16ba0cfe05",
            ),
            _ => return None,
        };
        return named(format!("{KA}convnext/"), h);
    }
    match app {
        "MobileNetV3Small" | "MobileNetV3Large" => {
            let kind = if app.ends_with("Small") { "small" } else { "large" };
            // Python's `str(alpha)`: 0.75, 1.0.
            let name = format!(
                "{kind}{}_224_{alpha:?}_float",
                if minimalistic { "_minimalistic" } else { "" }
            );
            let h = match name.as_str() {
                "large_224_0.75_float" => ("765b44a33ad4005b3ac83185abf1d0eb", "40af19a13ebea4e2ee0c676887f69a2e"),
                "large_224_1.0_float" => ("59e551e166be033d707958cf9e29a6a7", "07fb09a5933dd0c8eaafa16978110389"),
                "large_minimalistic_224_1.0_float" => {
                    ("675e7b876c45c57e9e63e6d90a36599c", "ec5221f64a2f6d1ef965a614bdae7973")
                }
                "small_224_0.75_float" => ("cb65d4e5be93758266aa0a7f2c6708b7", "ebdb5cc8e0b497cd13a7c275d475c819"),
                "small_224_1.0_float" => ("8768d4c2e7dee89b9d02b2d03d65d862", "d3e8ec802a04aa4fc771ee12a9a9b836"),
                "small_minimalistic_224_1.0_float" => {
                    ("99cd97fb2fcdad2bf028eb838de69e37", "cde8136e733e811080d9fcd8a252f7e4")
                }
                _ => return None,
            };
            let fname = if include_top {
                format!("weights_mobilenet_v3_{name}.h5")
            } else {
                format!("weights_mobilenet_v3_{name}_no_top_v2.h5")
            };
            Some((format!("{KA}mobilenet_v3/{fname}"), fname, pick(h)))
        }
        "NASNetMobile" | "NASNetLarge" => {
            let mobile = app == "NASNetMobile";
            let (fname, url_name, hash) = match (mobile, include_top) {
                (true, true) => (
                    "nasnet_mobile.h5",
                    "NASNet-mobile.h5",
                    "020fb642bf7360b370c678b08e0adf61",
                ),
                (true, false) => (
                    "nasnet_mobile_no_top.h5",
                    "NASNet-mobile-no-top.h5",
                    "1ed92395b5b598bdda52abe5c0dbfd63",
                ),
                (false, true) => ("nasnet_large.h5", "NASNet-large.h5", "11577c9a518f0070763c2b964a382f17"),
                (false, false) => (
                    "nasnet_large_no_top.h5",
                    "NASNet-large-no-top.h5",
                    "d81d89dc07e6e56530c4e77faddd61b5",
                ),
            };
            // Keras's address ends in another name than the cached file's.
            Some((format!("{KA}nasnet/{url_name}"), fname.into(), hash.into()))
        }
        "InceptionResNetV2" => {
            let (fname, hash) = if include_top {
                (
                    "inception_resnet_v2_weights_tf_dim_ordering_tf_kernels.h5",
                    "e693bd0210a403b3192acc6073ad2e96",
                )
            } else {
                (
                    "inception_resnet_v2_weights_tf_dim_ordering_tf_kernels_notop.h5",
                    "d19885ff4a710c122648d3b5c3b684e4",
                )
            };
            Some((format!("{KA}inception_resnet_v2/{fname}"), fname.into(), hash.into()))
        }
        _ => None,
    }
}

/// The applications this module resolves files for.
pub(crate) fn knows(app: &str) -> bool {
    file(app, "", true, 1.0, false).is_some() || app.starts_with("MobileNetV3")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_addresses_and_hashes_are_keras_s() {
        let (url, f, h) = file("EfficientNetB3", "efficientnetb3", false, 1.0, false).unwrap();
        assert_eq!(
            (url.as_str(), f.as_str(), h.as_str()),
            (
                "https://storage.googleapis.com/keras-applications/efficientnetb3_notop.h5",
                "efficientnetb3_notop.h5",
                "af6d107764bb5b1abb91932881670226"
            )
        );
        let (url, f, _) = file("EfficientNetV2S", "efficientnetv2-s", true, 1.0, false).unwrap();
        assert_eq!(f, "efficientnetv2-s.h5");
        assert_eq!(
            url,
            "https://storage.googleapis.com/tensorflow/keras-applications/efficientnet_v2/efficientnetv2-s.h5"
        );
        let (_, f, h) = file("MobileNetV3Small", "", false, 0.75, false).unwrap();
        assert_eq!(f, "weights_mobilenet_v3_small_224_0.75_float_no_top_v2.h5");
        assert_eq!(h, "ebdb5cc8e0b497cd13a7c275d475c819");
        let (_, f, _) = file("MobileNetV3Large", "", true, 1.0, true).unwrap();
        assert_eq!(f, "weights_mobilenet_v3_large_minimalistic_224_1.0_float.h5");
        assert!(file("MobileNetV3Large", "", true, 0.75, true).is_none());
        let (_, f, h) = file("ConvNeXtTiny", "convnext_tiny", true, 1.0, false).unwrap();
        assert_eq!((f.as_str(), h.len()), ("convnext_tiny.h5", 64));
        let (base, f, _) = file("NASNetLarge", "", false, 1.0, false).unwrap();
        assert_eq!(
            (base.as_str(), f.as_str()),
            (
                "https://storage.googleapis.com/tensorflow/keras-applications/nasnet/NASNet-large-no-top.h5",
                "nasnet_large_no_top.h5"
            )
        );
        assert!(file("InceptionResNetV2", "", true, 1.0, false).is_some() && knows("MobileNetV3Small"));
    }
}
