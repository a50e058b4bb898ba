//! Neural-network layers on any [`Evaluator`]. (Filled below.)
