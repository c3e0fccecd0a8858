//! Page queues (free, active, inactive, ...) as intrusive doubly linked
//! lists over page indices, so a page moves between queues in O(1) with no
//! allocation. The kernel keeps one `PageQueues` for all of physical memory.

/// No page: the end of a list.
pub const NIL: u32 = u32::MAX;
/// The queue number of a page on no queue.
pub const NOQUEUE: u8 = u8::MAX;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Link {
    prev: u32,
    next: u32,
    queue: u8,
}

impl Link {
    pub const UNLINKED: Link = Link { prev: NIL, next: NIL, queue: NOQUEUE };
}

#[derive(Clone, Copy, Debug, Default)]
struct Head {
    first: u32,
    last: u32,
    len: u32,
}

pub struct PageQueues<'a, const N: usize> {
    links: &'a mut [Link],
    heads: [Head; N],
}

impl<'a, const N: usize> PageQueues<'a, N> {
    /// `links` holds one entry per page; every page starts on no queue.
    pub fn new(links: &'a mut [Link]) -> Self {
        links.fill(Link::UNLINKED);
        PageQueues { links, heads: [Head { first: NIL, last: NIL, len: 0 }; N] }
    }

    pub fn npages(&self) -> usize {
        self.links.len()
    }

    pub fn len(&self, q: usize) -> u32 {
        self.heads[q].len
    }

    pub fn is_empty(&self, q: usize) -> bool {
        self.heads[q].len == 0
    }

    /// The queue page `pg` is on, if any.
    pub fn queue_of(&self, pg: u32) -> Option<usize> {
        match self.links[pg as usize].queue {
            NOQUEUE => None,
            q => Some(q as usize),
        }
    }

    pub fn first(&self, q: usize) -> Option<u32> {
        Some(self.heads[q].first).filter(|&p| p != NIL)
    }

    pub fn next(&self, pg: u32) -> Option<u32> {
        Some(self.links[pg as usize].next).filter(|&p| p != NIL)
    }

    /// Appends `pg`, which must be on no queue.
    pub fn insert_tail(&mut self, q: usize, pg: u32) {
        let l = &mut self.links[pg as usize];
        assert_eq!(l.queue, NOQUEUE, "page {pg} is already on queue {}", l.queue);
        let h = &mut self.heads[q];
        *l = Link { prev: h.last, next: NIL, queue: q as u8 };
        match h.last {
            NIL => h.first = pg,
            last => self.links[last as usize].next = pg,
        }
        h.last = pg;
        h.len += 1;
    }

    /// Takes `pg` off whatever queue it is on (no-op if none).
    pub fn remove(&mut self, pg: u32) {
        let Link { prev, next, queue } = self.links[pg as usize];
        if queue == NOQUEUE {
            return;
        }
        let h = &mut self.heads[queue as usize];
        match prev {
            NIL => h.first = next,
            p => self.links[p as usize].next = next,
        }
        match next {
            NIL => h.last = prev,
            n => self.links[n as usize].prev = prev,
        }
        h.len -= 1;
        self.links[pg as usize] = Link::UNLINKED;
    }

    pub fn pop_head(&mut self, q: usize) -> Option<u32> {
        let pg = self.first(q)?;
        self.remove(pg);
        Some(pg)
    }

    /// Moves `pg` to the tail of `q`, from wherever it was.
    pub fn requeue(&mut self, q: usize, pg: u32) {
        self.remove(pg);
        self.insert_tail(q, pg);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    extern crate std;
    use std::vec;
    use std::vec::Vec;

    fn walk<const N: usize>(pq: &PageQueues<'_, N>, q: usize) -> Vec<u32> {
        let mut v = Vec::new();
        let mut p = pq.first(q);
        while let Some(pg) = p {
            v.push(pg);
            p = pq.next(pg);
        }
        v
    }

    #[test]
    fn insert_remove_requeue() {
        let mut links = vec![Link::UNLINKED; 8];
        let mut pq = PageQueues::<3>::new(&mut links);
        for pg in 0..5 {
            pq.insert_tail(0, pg);
        }
        assert_eq!(walk(&pq, 0), [0, 1, 2, 3, 4]);
        pq.remove(0);
        pq.remove(4);
        pq.remove(2);
        assert_eq!(walk(&pq, 0), [1, 3]);
        assert_eq!(pq.len(0), 2);
        pq.requeue(1, 3);
        assert_eq!(pq.queue_of(3), Some(1));
        assert_eq!(walk(&pq, 0), [1]);
        assert_eq!(pq.pop_head(0), Some(1));
        assert_eq!(pq.pop_head(0), None);
        assert!(pq.is_empty(0));
        assert_eq!(pq.queue_of(1), None);
        pq.remove(1);
        assert_eq!(pq.len(1), 1);
    }

    #[test]
    #[should_panic(expected = "already on queue")]
    fn double_insert_is_caught() {
        let mut links = vec![Link::UNLINKED; 2];
        let mut pq = PageQueues::<2>::new(&mut links);
        pq.insert_tail(0, 1);
        pq.insert_tail(1, 1);
    }

    #[test]
    fn random_operations_keep_lists_consistent() {
        let mut rng = crate::random::Rng::new(5);
        let mut links = vec![Link::UNLINKED; 64];
        let mut pq = PageQueues::<3>::new(&mut links);
        let mut model: [Vec<u32>; 3] = [vec![], vec![], vec![]];
        for _ in 0..5000 {
            let pg = rng.below(64);
            let q = rng.below(3) as usize;
            for m in model.iter_mut() {
                m.retain(|&x| x != pg);
            }
            if rng.below(3) == 0 {
                pq.remove(pg);
            } else {
                pq.requeue(q, pg);
                model[q].push(pg);
            }
            for (i, m) in model.iter().enumerate() {
                assert_eq!(walk(&pq, i), *m);
                assert_eq!(pq.len(i) as usize, m.len());
            }
        }
    }
}
