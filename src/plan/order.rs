//! Building the deploy order from the plan, the config's `depends_on` and the user's wishes.

use std::collections::{BTreeMap, BTreeSet};

use super::{OrderError, OrderWish};

/// A dependency graph over service names: `deps[s]` = services s depends on (they go first).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Dependencies {
    deps: BTreeMap<String, Vec<String>>,
}

impl Dependencies {
    /// Builds the graph from `(service, depends_on)` pairs. A service listed twice gets the union
    /// of its lists (a config merged from several files may do that); repeated names count once.
    pub fn new(pairs: impl IntoIterator<Item = (String, Vec<String>)>) -> Dependencies {
        let mut deps: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for (service, on) in pairs {
            let entry = deps.entry(service).or_default();
            for dep in on {
                if !entry.contains(&dep) {
                    entry.push(dep);
                }
            }
        }
        Dependencies { deps }
    }

    /// A cycle, as the names around it in order (["a","b","a"]), or None. Used as a config error.
    pub fn cycle(&self) -> Option<Vec<String>> {
        let starts: Vec<&str> = self.deps.keys().map(String::as_str).collect();
        self.cycle_from(&starts)
    }

    /// A cycle reachable from `starts`: only those can disturb a plan made of `starts`.
    fn cycle_from(&self, starts: &[&str]) -> Option<Vec<String>> {
        let found = find_cycle(starts, |name| {
            self.direct(name).iter().map(String::as_str).collect()
        })?;
        Some(found.into_iter().map(str::to_string).collect())
    }

    /// What `name` depends on directly (nothing for a service the config does not mention).
    fn direct(&self, name: &str) -> &[String] {
        self.deps.get(name).map(Vec::as_slice).unwrap_or(&[])
    }
}

/// Orders `services` (the plan's members, in the order they were named/listed): the user's wishes
/// win over `depends_on` (a wish that inverts a dependency is allowed and wins: the user said so);
/// otherwise every dependency that is also in the plan goes before its dependent; otherwise the
/// original order is kept (stable). Dependencies not in the plan are ignored (not added).
/// Returns the ordered names, or an error.
///
/// A service named twice in `services` is deployed once, at its first mention. A dependency on a
/// service outside the plan is not added, but is looked through: if `a` depends on `x` (not in
/// the plan) and `x` on `b` (in the plan), `b` still goes before `a`. A dependency cycle that the
/// plan's services can reach is [`OrderError::Cycle`], even when a wish would avoid it, because
/// the config is broken either way.
pub fn order(
    services: &[&str],
    deps: &Dependencies,
    wishes: &[OrderWish],
) -> Result<Vec<String>, OrderError> {
    let mut plan: Vec<&str> = Vec::new();
    for &service in services {
        if !plan.contains(&service) {
            plan.push(service);
        }
    }
    if let Some(cycle) = deps.cycle_from(&plan) {
        return Err(OrderError::Cycle(cycle));
    }
    let index: BTreeMap<&str, usize> = plan.iter().enumerate().map(|(i, &s)| (s, i)).collect();
    let names =
        |ids: Vec<usize>| -> Vec<String> { ids.into_iter().map(|i| plan[i].to_string()).collect() };

    let wish_edges = wish_edges(&index, wishes)?;
    let wish_graph = adjacency(plan.len(), &wish_edges);
    let all: Vec<usize> = (0..plan.len()).collect();
    if let Some(cycle) = find_cycle(&all, |i| wish_graph[i].clone()) {
        return Err(OrderError::Contradiction(names(cycle)));
    }

    // A dependency edge yields to the wishes only where they order the pair the other way round;
    // everywhere else it still holds, so "billionmail first" keeps redis before its dependents.
    let reach = closure(&wish_graph);
    let mut edges = wish_edges;
    for (dep, dependent) in dependency_edges(&plan, &index, deps) {
        if !reach[dependent][dep] {
            edges.insert((dep, dependent));
        }
    }
    let graph = adjacency(plan.len(), &edges);
    match stable_sort(&graph) {
        Some(sorted) => Ok(names(sorted)),
        // Wishes alone are acyclic and so is the config, so a loop here mixes both: the wishes
        // invert a chain of dependencies, and which link to drop is the user's call, not ours.
        None => {
            let cycle = find_cycle(&all, |i| graph[i].clone()).expect("an unsortable graph loops");
            Err(OrderError::Contradiction(names(cycle)))
        }
    }
}

/// The wishes as `(earlier, later)` index pairs over the plan.
fn wish_edges(
    index: &BTreeMap<&str, usize>,
    wishes: &[OrderWish],
) -> Result<BTreeSet<(usize, usize)>, OrderError> {
    let find = |name: &str| {
        index
            .get(name)
            .copied()
            .ok_or_else(|| OrderError::NotInPlan(name.to_string()))
    };
    let mut edges = BTreeSet::new();
    for wish in wishes {
        match wish {
            OrderWish::First(name) => {
                let first = find(name)?;
                edges.extend(index.values().filter(|&&o| o != first).map(|&o| (first, o)));
            }
            OrderWish::Last(name) => {
                let last = find(name)?;
                edges.extend(index.values().filter(|&&o| o != last).map(|&o| (o, last)));
            }
            // "redis before redis" becomes a self-loop, reported like any other contradiction.
            OrderWish::Before(a, b) => {
                edges.insert((find(a)?, find(b)?));
            }
            OrderWish::Sequence(seq) => {
                let ids = seq.iter().map(|s| find(s)).collect::<Result<Vec<_>, _>>()?;
                edges.extend(ids.windows(2).map(|w| (w[0], w[1])));
            }
        }
    }
    Ok(edges)
}

/// `(dependency, dependent)` pairs between plan members, looking through services outside it.
fn dependency_edges(
    plan: &[&str],
    index: &BTreeMap<&str, usize>,
    deps: &Dependencies,
) -> Vec<(usize, usize)> {
    let mut edges = Vec::new();
    for (dependent, &service) in plan.iter().enumerate() {
        let mut seen: BTreeSet<&str> = BTreeSet::new();
        let mut todo: Vec<&str> = deps.direct(service).iter().map(String::as_str).collect();
        while let Some(dep) = todo.pop() {
            if !seen.insert(dep) {
                continue;
            }
            match index.get(dep) {
                // A plan member's own dependencies come in through its own edges.
                Some(&d) => edges.push((d, dependent)),
                None => todo.extend(deps.direct(dep).iter().map(String::as_str)),
            }
        }
    }
    edges
}

/// Successor lists, each sorted so that every walk over them is deterministic.
fn adjacency(n: usize, edges: &BTreeSet<(usize, usize)>) -> Vec<Vec<usize>> {
    let mut graph = vec![Vec::new(); n];
    for &(from, to) in edges {
        graph[from].push(to);
    }
    graph
}

/// `reach[a][b]`: b can be reached from a (a goes before b) along one or more edges.
fn closure(graph: &[Vec<usize>]) -> Vec<Vec<bool>> {
    let mut reach = vec![vec![false; graph.len()]; graph.len()];
    for (start, row) in reach.iter_mut().enumerate() {
        let mut todo = graph[start].clone();
        while let Some(next) = todo.pop() {
            if !row[next] {
                row[next] = true;
                todo.extend(&graph[next]);
            }
        }
    }
    reach
}

/// Kahn's algorithm, always taking the ready node listed earliest, so that order only changes
/// where an edge demands it. None when a cycle leaves nodes unsorted.
fn stable_sort(graph: &[Vec<usize>]) -> Option<Vec<usize>> {
    let mut waiting = vec![0usize; graph.len()];
    for &to in graph.iter().flatten() {
        waiting[to] += 1;
    }
    let mut ready: BTreeSet<usize> = (0..graph.len()).filter(|&i| waiting[i] == 0).collect();
    let mut sorted = Vec::with_capacity(graph.len());
    while let Some(next) = ready.pop_first() {
        sorted.push(next);
        for &to in &graph[next] {
            waiting[to] -= 1;
            if waiting[to] == 0 {
                ready.insert(to);
            }
        }
    }
    (sorted.len() == graph.len()).then_some(sorted)
}

/// A cycle reachable from `starts` along `next`, closed (`[a, b, a]`), found by an iterative
/// depth-first search (a long dependency chain must not overflow the stack).
fn find_cycle<N: Copy + Ord>(starts: &[N], next: impl Fn(N) -> Vec<N>) -> Option<Vec<N>> {
    let mut done: BTreeSet<N> = BTreeSet::new();
    for &start in starts {
        if done.contains(&start) {
            continue;
        }
        // The open path from `start`, each node with the successors it still has to visit.
        let mut path: Vec<(N, Vec<N>)> = vec![(start, successors(&next, start))];
        while let Some((node, pending)) = path.last_mut() {
            let node = *node;
            let Some(succ) = pending.pop() else {
                done.insert(node);
                path.pop();
                continue;
            };
            if let Some(from) = path.iter().position(|&(open, _)| open == succ) {
                let mut cycle: Vec<N> = path[from..].iter().map(|&(open, _)| open).collect();
                cycle.push(succ);
                return Some(cycle);
            }
            if !done.contains(&succ) {
                path.push((succ, successors(&next, succ)));
            }
        }
    }
    None
}

/// Successors reversed, so that popping visits them in their listed order.
fn successors<N>(next: &impl Fn(N) -> Vec<N>, node: N) -> Vec<N> {
    let mut succ = next(node);
    succ.reverse();
    succ
}
