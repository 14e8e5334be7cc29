//! Rounds of cases and what the drivers report of them: with `--rounds N`
//! every case runs N times, all cases once per round ([`run_rounds`]);
//! each case reports its median run ([`median_run`]), and each of our
//! cases its ratio, round by round, to the peer with the best median, with
//! the median of those ratios ([`print_round_ratios`], on stderr). A round's cases run minutes apart
//! at most, so these ratios shrug off a machine that is slower in one
//! round than in the next, which moves the medians of whole cases.

use std::time::Instant;

/// One run of one case, as the rounds see it.
pub trait CaseRow {
    /// The case less its implementation: rows of the same group are
    /// compared ("read_heavy threads=2 keys=u64").
    fn group(&self) -> String;
    fn implementation(&self) -> &str;
    /// One of ours: compared with the best peer.
    fn is_ours(&self) -> bool;
    /// A peer: what ours are compared with (baselines are neither).
    fn is_peer(&self) -> bool;
    /// The compared figure; `None` for a failed run.
    fn figure(&self) -> Option<f64>;
    /// Whether a higher figure is better.
    fn higher_is_better(&self) -> bool;
}

/// Runs `run(case)` for every case, `rounds` times, round-major (a burst
/// of noise on a shared machine hits one run of many cases, not every run
/// of one case), with a progress line per run on stderr. Returns each
/// case's runs, in the order of `cases`.
pub fn run_rounds<C, R>(
    cases: &[C],
    rounds: usize,
    label: impl Fn(&C) -> String,
    mut run: impl FnMut(&C) -> R,
) -> Vec<Vec<R>> {
    let started = Instant::now();
    let total = cases.len() * rounds;
    let mut runs: Vec<Vec<R>> = cases.iter().map(|_| Vec::new()).collect();
    for round in 0..rounds {
        for (k, case) in cases.iter().enumerate() {
            eprintln!(
                "[{}/{total}] {} (elapsed {:.1} s)",
                round * cases.len() + k + 1,
                label(case),
                started.elapsed().as_secs_f64()
            );
            runs[k].push(run(case));
        }
    }
    eprintln!("done in {:.1} s", started.elapsed().as_secs_f64());
    runs
}

/// The best of `figures` (highest or lowest as `higher` says).
fn best(figures: impl Iterator<Item = f64>, higher: bool) -> Option<f64> {
    figures.reduce(|a, b| if higher { a.max(b) } else { a.min(b) })
}

/// The median of `xs` (the lower middle of an even count).
fn median(mut xs: Vec<f64>) -> Option<f64> {
    xs.sort_by(|a, b| a.partial_cmp(b).expect("finite figures"));
    xs.get(xs.len().checked_sub(1)? / 2).copied()
}

/// For each of our cases, its ratio, round by round, to the same round's
/// run of the peer of its group with the best median, and the median of
/// those ratios (to stderr). `runs` is [`run_rounds`]'s. (Taking, per
/// round, whichever peer happened to be fastest would compare us with the
/// luckiest of several noisy draws: peers that run level have a maximum
/// biased upwards by the noise.)
pub fn print_round_ratios<R: CaseRow>(runs: &[Vec<R>]) {
    for case in runs.iter().filter(|c| c[0].is_ours()) {
        let group = case[0].group();
        let higher = case[0].higher_is_better();
        let best = runs
            .iter()
            .filter(|c| c[0].is_peer() && c[0].group() == group)
            .filter_map(|c| Some((c, median(c.iter().filter_map(CaseRow::figure).collect())?)))
            .reduce(|a, b| if (b.1 > a.1) == higher { b } else { a });
        let Some((peer, _)) = best else { continue };
        let ratios: Vec<f64> = (0..case.len().min(peer.len()))
            .filter_map(|round| Some(case[round].figure()? / peer[round].figure()?))
            .collect();
        let shown: Vec<String> = ratios.iter().map(|r| format!("{r:.2}")).collect();
        let Some(mid) = median(ratios) else { continue };
        eprintln!(
            "{group} {}: vs best peer ({}) per round {} (median {mid:.2})",
            case[0].implementation(),
            peer[0].implementation(),
            shown.join(" "),
        );
    }
}

/// The run whose figure is the median of a case's runs (the lower middle
/// of an even count); a failed run is left out, and the case counts as
/// failed only if every run failed. With several runs, their figures go to
/// stderr.
pub fn median_run<R: CaseRow>(mut runs: Vec<R>) -> R {
    if runs.len() > 1 {
        let values: Vec<String> = runs
            .iter()
            .map(|r| r.figure().map_or("failed".into(), super::num))
            .collect();
        eprintln!(
            "{} {}: runs {}",
            runs[0].group(),
            runs[0].implementation(),
            values.join(" ")
        );
    }
    if runs.iter().any(|r| r.figure().is_some()) {
        runs.retain(|r| r.figure().is_some());
    } else {
        runs.truncate(1);
    }
    runs.sort_by(|a, b| a.figure().partial_cmp(&b.figure()).expect("finite figures"));
    let middle = (runs.len() - 1) / 2;
    runs.swap_remove(middle)
}

/// Each row's ratio to the best peer of its group (`None` where the row
/// failed or its group has no peer with a figure).
pub fn ratios_to_best_peer<R: CaseRow>(rows: &[R]) -> Vec<Option<f64>> {
    rows.iter()
        .map(|r| {
            let group = r.group();
            let peers = rows
                .iter()
                .filter(|p| p.is_peer() && p.group() == group)
                .filter_map(CaseRow::figure);
            Some(r.figure()? / best(peers, r.higher_is_better())?)
        })
        .collect()
}
