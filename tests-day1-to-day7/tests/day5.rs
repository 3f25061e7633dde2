//! Day 5
