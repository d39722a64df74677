//! One module per subcommand.

pub mod bench;
pub mod corpus;
pub mod prepare;
