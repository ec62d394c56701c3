use deckhand::config::Config;
use deckhand::nlu::{eval, Nlu};
use std::path::PathBuf;
fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let config = Config::load(&PathBuf::from(&args[1]))?;
    let nlu = Nlu::new(&config)?;
    let rows = eval::parse_rows(&std::fs::read_to_string(&args[2])?)?;
    let r = eval::evaluate(&nlu, &rows);
    println!("{}", r.render(true));
    Ok(())
}
