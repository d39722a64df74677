//! One module per subcommand (`bench` a folder of its own subcommands).

pub mod bench;
pub mod collect;
pub mod compare;
pub mod corpus;
pub mod cpt;
pub mod demo;
pub mod eval;
pub mod explain_agent;
pub mod export;
pub mod headroom;
pub mod mixmin;
pub mod next;
pub mod preflight;
pub mod prepare;
pub mod pretrain;
pub mod select_agent;
pub mod train_agent;
pub mod trajectories;
