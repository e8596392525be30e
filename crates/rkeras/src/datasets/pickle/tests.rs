//! Hand-built pickles: every opcode family, the memo, refusals and truncations.

use super::*;

#[test]
fn lists_dicts_ints_and_memo() {
    // {'a': [1, -2, 300, 2**40], b'k': (True, None, 1.5)} with a memoized list fetched twice.
    let mut p = vec![0x80, 2, b'}', b'(', 0x8c, 1, b'a', b']', b'q', 0, b'(', b'K', 1];
    p.extend([
        b'J', 0xfe, 0xff, 0xff, 0xff, b'M', 0x2c, 0x01, 0x8a, 6, 0, 0, 0, 0, 0, 1, b'e',
    ]);
    p.extend([b'C', 1, b'k', 0x88, b'N', b'G']);
    p.extend(1.5f64.to_be_bytes());
    p.extend([0x87, 0x8c, 1, b'c', b'h', 0, b'u', b'.']);
    let v = load(&p, "t").unwrap();
    assert_eq!(v.get("a").unwrap().to_ints("t").unwrap(), vec![1, -2, 300, 1 << 40]);
    assert_eq!(v.get("c").unwrap().to_ints("t").unwrap(), vec![1, -2, 300, 1 << 40]);
    let k = v.get("k");
    let Some(Value::Tuple(t)) = &k else { panic!("tuple") };
    assert!(matches!(t[..], [Value::Bool(true), Value::None, Value::Float(f)] if f == 1.5));
}

#[test]
fn refuses_other_globals_and_bad_streams() {
    let evil = b"\x80\x02cposix\nsystem\nq\x00X\x04\x00\x00\x00echoq\x01\x85q\x02Rq\x03.";
    let e = load(evil, "evil.pkl").unwrap_err().to_string();
    assert!(e.contains("refusing to load `posix.system`"), "{e}");
    for (bytes, want) in [
        (&b"\x80\x02K"[..], "truncated"),
        (b"\x80\x02T\xff\xff\xff\x7fab", "truncated"),
        (b"\x80\x02e.", "no MARK"),
        (b"\x80\x02h\x05.", "memo 5 not set"),
        (b"\x80\x02\xff", "unsupported opcode 0xff"),
        (b"\x80\x02K\x01a.", "not a list"),
        (b"\x80\x02.", "stack underflow"),
        (
            b"\x80\x02\x8a\x09\x01\x01\x01\x01\x01\x01\x01\x01\x01.",
            "does not fit in 64 bits",
        ),
    ] {
        let e = load(bytes, "x").unwrap_err().to_string();
        assert!(e.contains(want), "{want}: {e}");
    }
}

#[test]
fn numeric_arrays_of_every_width_and_order() {
    let arr = |code: &str, order: char, bytes: Vec<u8>, n: usize| NdArray {
        shape: vec![n],
        dtype: Some(Dtype {
            code: code.into(),
            order,
        }),
        bytes,
        objects: vec![],
    };
    assert_eq!(
        arr("i2", '<', vec![0xff, 0xff, 2, 0], 2).to_f64("a").unwrap(),
        [-1.0, 2.0]
    );
    assert_eq!(arr("i4", '>', vec![0, 0, 1, 0], 1).to_f64("a").unwrap(), [256.0]);
    assert_eq!(
        arr("f4", '<', 2.5f32.to_le_bytes().to_vec(), 1).to_f64("a").unwrap(),
        [2.5]
    );
    assert_eq!(arr("u1", '|', vec![200], 1).to_f64("a").unwrap(), [200.0]);
    assert!(arr("u1", '|', vec![1, 2], 1)
        .to_f64("a")
        .unwrap_err()
        .to_string()
        .contains("needs 1 bytes"));
    assert!(arr("c16", '<', vec![], 0).to_f64("a").is_err());
}

#[test]
fn a_million_nested_lists_do_not_overflow_the_stack() {
    let depth = 1_000_000;
    let mut p = vec![0x80, 2];
    p.extend(std::iter::repeat_n(b']', depth));
    p.extend(std::iter::repeat_n(b'a', depth - 1));
    p.push(b'.');
    let v = load(&p, "deep").unwrap();
    assert!(matches!(v, Value::List(_)));
    drop(v);
    // Nested tuples too (MARK ... TUPLE around each level).
    let mut p = vec![0x80, 2];
    p.extend(std::iter::repeat_n(b'(', depth));
    p.extend(std::iter::repeat_n(b't', depth));
    p.push(b'.');
    assert!(load(&p, "deep").is_ok());
}
