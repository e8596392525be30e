//! Tests of the merge layers.

use super::*;
use crate::kshape::batched;
use crate::layers::test_util::{err, grad_check, run};
use tensor::Tensor;

fn shape(op: MergeConfig, inputs: &[Shape]) -> Result<Shape> {
    let l = op.build("m", inputs, &mut Rng::new(0))?;
    Ok(l.compute_output_shape(inputs)?.remove(0))
}

fn apply(op: MergeConfig, inputs: &[Tensor]) -> Tensor {
    let shapes: Vec<Shape> = inputs.iter().map(|t| crate::kshape::symbolic(t.shape())).collect();
    let l = op.build("m", &shapes, &mut Rng::new(0)).unwrap();
    run(l.as_ref(), inputs, false).unwrap().out.remove(0)
}

#[test]
fn elementwise_shapes_follow_keras() {
    let s = batched(&[64]);
    assert_eq!(shape(Add::new(), &[s.clone(), s.clone()]).unwrap(), s);
    assert_eq!(shape(Multiply::new(), &[s.clone(), s.clone(), s.clone()]).unwrap(), s);
    // Broadcasting after the batch, right-aligned; a lower rank is expanded at axis 1.
    assert_eq!(
        shape(Add::new(), &[batched(&[3, 5]), batched(&[5])]).unwrap(),
        batched(&[3, 5])
    );
    assert_eq!(
        shape(Maximum::new(), &[batched(&[4, 1, 3]), batched(&[1, 2, 3])]).unwrap(),
        batched(&[4, 2, 3])
    );
    assert_eq!(
        shape(Minimum::new(), &[vec![None, None, Some(3)], batched(&[2, 3])]).unwrap(),
        vec![None, None, Some(3)]
    );
    assert_eq!(
        shape(Average::new(), &[vec![Some(8), Some(3)], batched(&[3])]).unwrap(),
        vec![Some(8), Some(3)]
    );
    assert_eq!(
        shape(Concatenate::new(-1), &[batched(&[8, 8, 2]), batched(&[8, 8, 3])]).unwrap(),
        batched(&[8, 8, 5])
    );
    assert_eq!(
        shape(Concatenate::new(1), &[batched(&[2, 4]), batched(&[3, 4])]).unwrap(),
        batched(&[5, 4])
    );
    assert_eq!(
        shape(Concatenate::new(1), &[vec![None, None, Some(4)], batched(&[3, 4])]).unwrap(),
        vec![None, None, Some(4)]
    );
}

#[test]
fn errors_name_the_layer_and_the_shapes() {
    let l = err(Add::new().build("add_1", &[batched(&[3]), batched(&[4])], &mut Rng::new(0)));
    assert_eq!(l, "add_1: inputs have incompatible shapes: input 0 (None, 3) and input 1 (None, 4) differ on axis 1 (3 vs 4; sizes must be equal or 1)");
    let e = err(Add::new().build("add", &[batched(&[3])], &mut Rng::new(0)));
    assert_eq!(
        e,
        "add: a `Add` layer should be called on a list of at least 2 inputs, received 1"
    );
    let e = err(Subtract::new().build(
        "subtract",
        &[batched(&[3]), batched(&[3]), batched(&[3])],
        &mut Rng::new(0),
    ));
    assert!(
        e.starts_with("subtract: a `Subtract` layer should be called on exactly 2 inputs, received 3"),
        "{e}"
    );
    let e = err(Multiply::new().build("m", &[vec![Some(2), Some(3)], vec![Some(4), Some(3)]], &mut Rng::new(0)));
    assert!(
        e.contains("different batch sizes") && e.contains("(2, 3), (4, 3)"),
        "{e}"
    );
    let e = err(Concatenate::new(-1).build(
        "concatenate",
        &[batched(&[4, 4, 2]), batched(&[5, 5, 3])],
        &mut Rng::new(0),
    ));
    assert_eq!(
        e,
        "concatenate: a `Concatenate` layer requires inputs with matching shapes except for the concatenation axis (axis=-1): input 0 (None, 4, 4, 2) and input 1 (None, 5, 5, 3) differ on axis 1 (4 vs 5)"
    );
    let e = err(Concatenate::new(3).build("concatenate_2", &[batched(&[4, 2]), batched(&[4, 2])], &mut Rng::new(0)));
    assert!(
        e.starts_with("concatenate_2: argument `axis`") && e.ends_with("Received: axis=3"),
        "{e}"
    );
    let e = err(Concatenate::new(1).build("c", &[batched(&[4, 2]), batched(&[4])], &mut Rng::new(0)));
    assert!(e.contains("same rank") && e.contains("(None, 4)"), "{e}");
}

#[test]
fn values_by_hand() {
    let a = Tensor::arange(&[2, 3]);
    let b = Tensor::full(&[2, 3], 2.0);
    assert_eq!(
        apply(Add::new(), &[a.clone(), b.clone()]).data(),
        &[2.0, 3.0, 4.0, 5.0, 6.0, 7.0]
    );
    assert_eq!(
        apply(Subtract::new(), &[a.clone(), b.clone()]).data(),
        &[-2.0, -1.0, 0.0, 1.0, 2.0, 3.0]
    );
    assert_eq!(
        apply(Multiply::new(), &[a.clone(), b.clone()]).data(),
        &[0.0, 2.0, 4.0, 6.0, 8.0, 10.0]
    );
    assert_eq!(
        apply(Average::new(), &[a.clone(), b.clone(), b.clone()]).data(),
        &[4.0 / 3.0, 5.0 / 3.0, 2.0, 7.0 / 3.0, 8.0 / 3.0, 3.0]
    );
    assert_eq!(
        apply(Maximum::new(), &[a.clone(), b.clone()]).data(),
        &[2.0, 2.0, 2.0, 3.0, 4.0, 5.0]
    );
    assert_eq!(
        apply(Minimum::new(), &[a.clone(), b.clone()]).data(),
        &[0.0, 1.0, 2.0, 2.0, 2.0, 2.0]
    );
    let c = apply(Concatenate::new(-1), &[a.clone(), Tensor::full(&[2, 1], 9.0)]);
    assert_eq!(
        (c.shape(), c.data()),
        (&[2usize, 4][..], &[0.0, 1.0, 2.0, 9.0, 3.0, 4.0, 5.0, 9.0][..])
    );
    // (2, 3) + (2, 2, 3): the first is expanded to (2, 1, 3), as Keras does.
    let big = Tensor::zeros(&[2, 2, 3]);
    let y = apply(Add::new(), &[a, big]);
    assert_eq!(y.shape(), &[2, 2, 3]);
    assert_eq!(y.data(), &[0.0, 1.0, 2.0, 0.0, 1.0, 2.0, 3.0, 4.0, 5.0, 3.0, 4.0, 5.0]);
}

#[test]
fn gradients() {
    let a = Tensor::new(&[2, 3], vec![0.3, -1.2, 2.1, 0.7, -0.4, 1.5]).unwrap();
    let b = Tensor::new(&[2, 3], vec![0.9, -2.2, 1.1, 0.2, -0.8, 1.9]).unwrap();
    let s = [batched(&[3]), batched(&[3])];
    for op in [
        Add::new(),
        Subtract::new(),
        Multiply::new(),
        Average::new(),
        Maximum::new(),
        Minimum::new(),
        Concatenate::new(0),
    ] {
        let l = op.build("m", &s, &mut Rng::new(0)).unwrap();
        grad_check(l.as_ref(), &[a.clone(), b.clone()], true);
    }
}

#[test]
fn json_and_functional_forms() {
    for (class, op) in [
        ("Add", Add::new()),
        ("Subtract", Subtract::new()),
        ("Average", Average::new()),
        ("Concatenate", Concatenate::new(1)),
    ] {
        let l = op
            .build("m", &[batched(&[2, 2]), batched(&[2, 2])], &mut Rng::new(0))
            .unwrap();
        let j = l.config();
        let back = MergeConfig::from_keras(&ConfigReader::new(class, &j).unwrap()).unwrap();
        assert_eq!(back.op, op.op);
        assert_eq!(back.name.as_deref(), Some("m"));
    }
    let k2 = json!({"name": "add", "trainable": true, "dtype": "float32"});
    assert_eq!(
        MergeConfig::from_keras(&ConfigReader::new("Add", &k2).unwrap())
            .unwrap()
            .op,
        MergeOp::Add
    );
    let j = Concatenate::new(-1)
        .build("concatenate", &[batched(&[2]), batched(&[2])], &mut Rng::new(0))
        .unwrap()
        .config();
    assert_eq!(j["axis"], json!(-1));
    assert_eq!(j.as_object().unwrap().len(), 4);
    crate::model::clear_session();
    let x = crate::layers::input::Input(&[4]).unwrap();
    let y = crate::layers::input::Input(&[4]).unwrap();
    assert_eq!(subtract(&[&x, &y]).unwrap().shape(), &batched(&[4]));
    assert_eq!(maximum(&[&x, &y, &x]).unwrap().shape(), &batched(&[4]));
    assert!(subtract(&[&x]).is_err());
    assert_eq!(concatenate(&[&x, &y], 1).unwrap().shape(), &batched(&[8]));
}
