/**
 * Types for the parts of ml-regression@6 the analyzer uses (the package
 * ships none). Runtime: CommonJS, so import the default and destructure.
 */
declare module 'ml-regression' {
  /** Ordinary least squares with several inputs (SVD inverse of XᵀX). */
  export class MultivariateLinearRegression {
    constructor(x: number[][], y: number[][], options?: { intercept?: boolean; statistics?: boolean });
    /** (inputs + 1 intercept row) × outputs; the intercept is the last row. */
    weights: number[][];
    /** Standard error of each weight (statistics: true). */
    stdErrors: number[];
    /** weight / stdError of each weight (statistics: true). */
    tStats: number[];
    /** Residual standard error. */
    stdError: number;
    predict(x: number[]): number[];
    predict(x: number[][]): number[][];
  }

  /** Theil–Sen line; O(n²) memory and time (an n×n slope array). */
  export class TheilSenRegression {
    constructor(x: number[], y: number[]);
    slope: number;
    intercept: number;
    predict(x: number): number;
  }

  /** Least-squares line. */
  export class SimpleLinearRegression {
    constructor(x: number[], y: number[]);
    slope: number;
    intercept: number;
    predict(x: number): number;
  }

  const mlRegression: {
    MultivariateLinearRegression: typeof MultivariateLinearRegression;
    TheilSenRegression: typeof TheilSenRegression;
    SimpleLinearRegression: typeof SimpleLinearRegression;
  };
  export default mlRegression;
}
