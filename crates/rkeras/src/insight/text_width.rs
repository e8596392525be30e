//! Text widths in the embedded DejaVu Sans ([`super::render`]), so that the SVG boxes fit
//! their text exactly as the PNG draws it: the advance widths of the printable ASCII
//! characters (font units, 2048 per em; read from `crates/rkeras/data/fonts/*.ttf` with
//! fontTools), and the font's mean advance for any other character.

const REGULAR: [u16; 95] = [
    651, 821, 942, 1716, 1303, 1946, 1597, 563, 799, 799, 1024, 1716, 651, 739, 651, 690, 1303, 1303, 1303, 1303, 1303,
    1303, 1303, 1303, 1303, 1303, 690, 690, 1716, 1716, 1716, 1087, 2048, 1401, 1405, 1430, 1577, 1294, 1178, 1587,
    1540, 604, 604, 1343, 1141, 1767, 1532, 1612, 1235, 1612, 1423, 1300, 1251, 1499, 1401, 2025, 1403, 1251, 1403,
    799, 690, 799, 1716, 1024, 1024, 1255, 1300, 1126, 1300, 1260, 721, 1300, 1298, 569, 569, 1186, 569, 1995, 1298,
    1253, 1300, 1300, 842, 1067, 803, 1298, 1212, 1675, 1212, 1212, 1075, 1303, 690, 1303, 1716,
];
const BOLD: [u16; 95] = [
    713, 934, 1067, 1716, 1425, 2052, 1786, 627, 936, 936, 1071, 1716, 778, 850, 778, 748, 1425, 1425, 1425, 1425,
    1425, 1425, 1425, 1425, 1425, 1425, 819, 819, 1716, 1716, 1716, 1188, 2048, 1585, 1561, 1503, 1700, 1399, 1399,
    1681, 1714, 762, 762, 1587, 1305, 2038, 1714, 1741, 1501, 1741, 1577, 1475, 1397, 1663, 1585, 2259, 1579, 1483,
    1485, 936, 748, 936, 1716, 1024, 1024, 1382, 1466, 1214, 1466, 1389, 891, 1466, 1458, 702, 702, 1362, 702, 2134,
    1458, 1407, 1466, 1466, 1010, 1219, 979, 1458, 1335, 1892, 1321, 1335, 1192, 1458, 748, 1458, 1716,
];

/// The mean advance of the embedded fonts' other characters (font units).
const OTHER: (u16, u16) = (1295, 1390);

/// Width of `text` at `size` points, in DejaVu Sans (`bold`: DejaVu Sans Bold).
pub fn text_width(text: &str, size: f64, bold: bool) -> f64 {
    let (table, other) = if bold { (&BOLD, OTHER.1) } else { (&REGULAR, OTHER.0) };
    let units: u64 = text
        .chars()
        .map(|c| match c as u32 {
            0x20..=0x7e => table[(c as u32 - 0x20) as usize],
            _ => other,
        } as u64)
        .sum();
    units as f64 * size / 2048.0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn widths_are_the_fonts_advances() {
        // "M" is 1767 units in DejaVu Sans, 2038 in Bold; a space 651 and 713.
        assert_eq!(text_width("M ", 2048.0, false), 1767.0 + 651.0);
        assert_eq!(text_width("M ", 2048.0, true), 2038.0 + 713.0);
        assert_eq!(text_width("×", 2048.0, false), 1295.0);
    }
}
