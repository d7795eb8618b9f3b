//! ReturnScope: segments a retailer's customers by how they return what they buy.
//!
//! - [`pipeline`]: the headless stages (load, validate, features, gold, cluster, embed, report),
//!   free of any UI code; plain data in and out, progress and cancel passed in.
//! - [`app`]: the eframe/egui desktop wizard that drives the pipeline on background threads.
//! - [`cli`]: the command line (`returnscope run`, `validate`, `sample`, `export`).
//! - [`palette`]: segment colours shared by the app and the Excel report.

pub mod app;
pub mod cli;
pub mod logging;
pub mod palette;
pub mod pipeline;
