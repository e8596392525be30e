//! Placing the plan's values: every value that is not an input, a reshape of another value or
//! a slice of a concatenation gets a buffer; a buffer lives from the first step that writes it
//! to the last step that reads it (model outputs to the end); buffers whose lifetimes do not
//! overlap share an arena slot (best fit, then the largest free slot grown). The arena is
//! allocated on the first run and reused by every later one.

use super::build::{Builder, Storage};
use super::{Loc, ValueId};

/// Fills in every value's location; returns each buffer's slot and each slot's length.
pub(super) fn place(b: &mut Builder, outputs: &[ValueId]) -> (Vec<usize>, Vec<usize>) {
    let n = b.values.len();
    // Buffers of the values that own one.
    let mut buffer_of = vec![usize::MAX; n];
    let mut buffer_len = Vec::new();
    for (v, slot) in buffer_of.iter_mut().enumerate() {
        if matches!(b.storage[v], Storage::Own) && !matches!(b.values[v].loc, Loc::Input(k) if k != usize::MAX) {
            *slot = buffer_len.len();
            buffer_len.push(b.values[v].len());
        }
    }
    // Locations: own buffers, regions of them, aliases of anything.
    for v in 0..n {
        let loc = resolve(b, &buffer_of, v);
        b.values[v].loc = loc;
    }
    // Lifetimes, in step indices.
    let nb = buffer_len.len();
    let mut first = vec![usize::MAX; nb];
    let mut last = vec![0usize; nb];
    let buf = |loc: Loc| match loc {
        Loc::Buffer { buffer, .. } => Some(buffer),
        Loc::Input(_) => None,
    };
    for (i, st) in b.steps.iter().enumerate().filter(|(_, s)| !s.dead) {
        if let Some(o) = buf(b.values[st.output].loc) {
            first[o] = first[o].min(i);
            last[o] = last[o].max(i);
        }
        for &x in &st.inputs {
            if let Some(o) = buf(b.values[x].loc) {
                last[o] = last[o].max(i);
                first[o] = first[o].min(i);
            }
        }
    }
    for &v in outputs {
        if let Some(o) = buf(b.values[v].loc) {
            last[o] = usize::MAX;
            first[o] = first[o].min(b.steps.len());
        }
    }
    // Greedy assignment in order of first write.
    let mut order: Vec<usize> = (0..nb).filter(|&o| first[o] != usize::MAX).collect();
    order.sort_by_key(|&o| (first[o], std::cmp::Reverse(buffer_len[o])));
    let mut slot_len: Vec<usize> = Vec::new();
    let mut slot_free_after: Vec<usize> = Vec::new();
    let mut slot_of = vec![usize::MAX; nb];
    for o in order {
        let free: Vec<usize> = (0..slot_len.len()).filter(|&s| slot_free_after[s] < first[o]).collect();
        let fit = free
            .iter()
            .copied()
            .filter(|&s| slot_len[s] >= buffer_len[o])
            .min_by_key(|&s| slot_len[s]);
        let s = match fit.or_else(|| free.iter().copied().max_by_key(|&s| slot_len[s])) {
            Some(s) => s,
            None => {
                slot_len.push(0);
                slot_free_after.push(0);
                slot_len.len() - 1
            }
        };
        slot_len[s] = slot_len[s].max(buffer_len[o]);
        slot_free_after[s] = last[o];
        slot_of[o] = s;
    }
    (slot_of, slot_len)
}

fn resolve(b: &Builder, buffer_of: &[usize], v: ValueId) -> Loc {
    match b.storage[v] {
        Storage::Own => match b.values[v].loc {
            Loc::Input(k) if k != usize::MAX => Loc::Input(k),
            _ => Loc::Buffer {
                buffer: buffer_of[v],
                offset: 0,
                stride: b.values[v].channels(),
            },
        },
        Storage::Alias(src) => match resolve(b, buffer_of, src) {
            Loc::Buffer { buffer, offset, .. } => Loc::Buffer {
                buffer,
                offset,
                stride: b.values[v].channels(),
            },
            input => input,
        },
        Storage::Region { of, offset } => match resolve(b, buffer_of, of) {
            Loc::Buffer {
                buffer,
                offset: o,
                stride,
            } => Loc::Buffer {
                buffer,
                offset: o + offset,
                stride,
            },
            input => input,
        },
    }
}
