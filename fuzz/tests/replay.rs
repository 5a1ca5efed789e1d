//! Replays every file in `seeds/<target>/` through its target's harness, on stable Rust and without libFuzzer. A
//! crash reproducer saved there becomes a regression test.

use std::path::Path;

#[test]
fn every_seed_passes_its_target() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("seeds");
    for (target, run) in lifeline_fuzz::TARGETS {
        let dir = root.join(target);
        let mut count = 0;
        for entry in std::fs::read_dir(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())) {
            let path = entry.unwrap().path();
            let data = std::fs::read(&path).unwrap();
            eprintln!("{target}: {}", path.display());
            run(&data);
            count += 1;
        }
        assert!(count > 0, "no seeds for {target}");
    }
}

#[test]
fn generated_seeds_pass_their_targets() {
    for seed in lifeline_fuzz::seeds::all().unwrap() {
        let (_, run) = lifeline_fuzz::TARGETS.iter().find(|(name, _)| *name == seed.target).unwrap();
        run(&seed.bytes);
    }
}
