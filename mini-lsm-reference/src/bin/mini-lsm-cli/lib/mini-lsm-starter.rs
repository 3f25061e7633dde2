// The library of the mini-lsm-starter package, for main.rs.
use mini_lsm_starter as engine;
