use crate::error::CliError;
use crate::globals::Globals;
#[derive(Debug, clap::Subcommand)]
pub enum BundleCmd {}
#[derive(Debug, clap::Args)]
pub struct GateArgs {}
pub fn run_bundle(cmd: BundleCmd, _g: &Globals) -> Result<(), CliError> { match cmd {} }
pub fn run_gate(_args: GateArgs, _g: &Globals) -> Result<(), CliError> { Err(CliError::Usage("x".into())) }
