use crate::error::CliError;
use crate::globals::Globals;
#[derive(Debug, clap::Subcommand)]
pub enum ProfileCmd {}
#[derive(Debug, clap::Args)]
pub struct FeedbackArgs {}
pub fn run_profile(cmd: ProfileCmd, _g: &Globals) -> Result<(), CliError> { match cmd {} }
pub fn run_feedback(_args: FeedbackArgs, _g: &Globals) -> Result<(), CliError> { Err(CliError::Usage("x".into())) }
