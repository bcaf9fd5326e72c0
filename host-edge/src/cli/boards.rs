//! `host-edge boards`: the boards the GPIO provider knows, and the header
//! of one as a table to wire from.

use std::process::ExitCode;

use clap::{Args, Subcommand};

/// List the boards the GPIO provider knows, or show one's header.
#[derive(Debug, Args)]
#[command(after_help = "Examples:\n  host-edge boards\n  host-edge boards show pi-4b\n  host-edge boards show ./my-board.toml")]
pub struct BoardsArgs {
    #[command(subcommand)]
    command: Option<BoardsCommand>,
}

#[derive(Debug, Subcommand)]
enum BoardsCommand {
    /// Print a board's header: header pins, BCM numbers, labels, power,
    /// reserved pins and hardware PWM channels.
    Show {
        /// A board name from `host-edge boards`, or a board definition file.
        name: String,
    },
}

/// Runs `host-edge boards`.
pub fn execute(args: BoardsArgs) -> anyhow::Result<ExitCode> {
    match args.command {
        None => {
            let boards = boards::builtin();
            let width = boards.iter().map(|b| b.name.len()).max().unwrap_or(0);
            for board in &boards {
                println!("{:<width$}  {} ({})", board.name, board.title, board.soc);
            }
            println!("\n`host-edge boards show NAME` prints one's header; the GPIO provider's BOARD setting takes the name.");
        }
        Some(BoardsCommand::Show { name }) => print!("{}", boards::find(&name)?.header_table()),
    }
    Ok(ExitCode::SUCCESS)
}
