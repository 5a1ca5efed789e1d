//! Writes the seed corpus to `seeds/<target>/`: `cargo run --example gen_seeds` from the fuzz directory.
//!
//! Files are overwritten, never deleted, so inputs saved there by hand (crash reproducers) stay.

use std::path::Path;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("seeds");
    let seeds = lifeline_fuzz::seeds::all()?;
    for seed in &seeds {
        let dir = root.join(seed.target);
        std::fs::create_dir_all(&dir)?;
        std::fs::write(dir.join(&seed.name), &seed.bytes)?;
    }
    println!("wrote {} seeds under {}", seeds.len(), root.display());
    Ok(())
}
