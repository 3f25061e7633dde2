//! Day 4
