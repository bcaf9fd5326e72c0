//! The `host-edge` command: keys, sign, inspect, call, run.

mod cli;

use clap::Parser;

fn main() -> std::process::ExitCode {
    let args = cli::Cli::parse();
    let logging = cli::init_logging(args.verbose, args.log_format);
    match cli::execute(args.command) {
        Ok(code) => code,
        Err(error) => {
            // `{:#}`: the whole chain of causes, each said once.
            logging.print_error(&format!("{error:#}"));
            std::process::ExitCode::FAILURE
        }
    }
}
