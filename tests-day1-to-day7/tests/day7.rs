//! Day 7
