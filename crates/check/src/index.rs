//! The set of states seen, by fingerprint: the one structure of an exploration that grows with every
//! distinct state, so it is kept small.
//!
//! States are numbered in the order they are found, and each number's fingerprint is kept in a vector
//! (the graph needs it afterwards for counterexamples). The table itself holds only state numbers, four
//! bytes a slot, probing linearly from the fingerprint's low bits (fingerprints are hashes already) and
//! comparing against the vector. At most three slots in four are used: 5 to 11 bytes per state, where a
//! map from fingerprint to number would take 18 to 37.

/// A state's number in the graph, in BFS order (the initial state is 0).
pub type StateId = u32;

/// A slot no state is in.
const EMPTY: StateId = StateId::MAX;

/// Fingerprints to state numbers (see the module docs).
#[derive(Debug)]
pub struct Index {
    slots: Vec<StateId>,
    fingerprints: Vec<u64>,
}

impl Default for Index {
    fn default() -> Self {
        Self { slots: vec![EMPTY; 1024], fingerprints: Vec::new() }
    }
}

impl Index {
    /// The number of the state with this fingerprint, if seen.
    pub fn get(&self, fingerprint: u64) -> Option<StateId> {
        let mask = self.slots.len() - 1;
        let mut at = fingerprint as usize & mask;
        loop {
            match self.slots[at] {
                EMPTY => return None,
                id if self.fingerprints[id as usize] == fingerprint => return Some(id),
                _ => at = (at + 1) & mask,
            }
        }
    }

    /// The number of the state with this fingerprint, and whether it is new (numbered next).
    pub fn insert(&mut self, fingerprint: u64) -> (StateId, bool) {
        if (self.fingerprints.len() + 1) * 4 > self.slots.len() * 3 {
            self.grow();
        }
        let mask = self.slots.len() - 1;
        let mut at = fingerprint as usize & mask;
        loop {
            match self.slots[at] {
                EMPTY => {
                    let id = self.fingerprints.len() as StateId;
                    self.slots[at] = id;
                    self.fingerprints.push(fingerprint);
                    return (id, true);
                }
                id if self.fingerprints[id as usize] == fingerprint => return (id, false),
                _ => at = (at + 1) & mask,
            }
        }
    }

    /// How many states are in.
    #[cfg(test)]
    pub fn len(&self) -> usize {
        self.fingerprints.len()
    }

    /// The fingerprints, by state number.
    pub fn into_fingerprints(self) -> Vec<u64> {
        self.fingerprints
    }

    /// Bytes held.
    #[cfg(test)]
    pub fn bytes(&self) -> usize {
        self.slots.capacity() * std::mem::size_of::<StateId>() + self.fingerprints.capacity() * 8
    }

    fn grow(&mut self) {
        let mut slots = vec![EMPTY; self.slots.len() * 2];
        let mask = slots.len() - 1;
        for (id, fingerprint) in self.fingerprints.iter().enumerate() {
            let mut at = *fingerprint as usize & mask;
            while slots[at] != EMPTY {
                at = (at + 1) & mask;
            }
            slots[at] = id as StateId;
        }
        self.slots = slots;
    }
}

#[cfg(test)]
mod tests {
    use super::Index;

    #[test]
    fn finds_every_fingerprint_inserted_across_growth_and_collisions() {
        let mut index = Index::default();
        // Equal low bits collide in the table: probing must still tell them apart.
        let fingerprints: Vec<u64> = (0..5_000u64).map(|i| (i % 7) | (i << 32)).collect();
        for (n, fp) in fingerprints.iter().enumerate() {
            assert_eq!(index.insert(*fp), (n as u32, true));
        }
        for (n, fp) in fingerprints.iter().enumerate() {
            assert_eq!(index.get(*fp), Some(n as u32));
            assert_eq!(index.insert(*fp), (n as u32, false));
        }
        assert_eq!(index.len(), 5_000);
        assert_eq!(index.get((1792 << 32) | 1), None, "1792 % 7 is 0: only its first fingerprint is in");
        assert!(index.bytes() < 5_000 * 8 * 2 + 8192 * 4 * 2, "{} bytes", index.bytes());
    }
}

#[cfg(test)]
mod example {
    use super::Index;

    #[test]
    fn states_are_numbered_in_the_order_found() {
        let mut index = Index::default();
        assert_eq!(index.insert(0xfeed), (0, true));
        assert_eq!(index.insert(0xbeef), (1, true));
        assert_eq!(index.insert(0xfeed), (0, false));
        assert_eq!(index.get(0xbeef), Some(1));
        assert_eq!(index.get(0xcafe), None);
        assert_eq!(index.into_fingerprints(), vec![0xfeed, 0xbeef]);
    }
}
