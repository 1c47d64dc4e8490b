// SVG hatch patterns, one shape per kind of warning and one colouring per coverage.
// Colour says how much of a region is under alert; the pattern (and the label) says which
// kind, so a reader who cannot tell red from orange still reads the map.
"use strict";

const SVG_NS = "http://www.w3.org/2000/svg";

const KIND_SHAPES = {
  "air-raid": "diag",
  missile: "cross",
  drone: "dots",
  shelling: "horiz",
};
const OTHER_SHAPE = "vert";
const SHAPES = ["diag", "cross", "dots", "horiz", "vert"];

const COVERAGE_COLOURS = {
  full: { bg: "#c62828", fg: "#5c0000" },
  partial: { bg: "#ffcc80", fg: "#c75b00" },
};

function shapeOf(kinds) {
  for (const kind of kinds || []) if (KIND_SHAPES[kind]) return KIND_SHAPES[kind];
  return OTHER_SHAPE;
}

function patternId(shape, coverage) { return "pat-" + shape + "-" + coverage; }

function svgEl(tag, attrs) {
  const node = document.createElementNS(SVG_NS, tag);
  for (const [name, value] of Object.entries(attrs)) node.setAttribute(name, String(value));
  return node;
}

function shapeParts(shape, fg) {
  switch (shape) {
    case "diag": return [svgEl("rect", { width: 3, height: 8, fill: fg })];
    case "cross": return [svgEl("rect", { width: 2, height: 8, fill: fg }), svgEl("rect", { width: 8, height: 2, fill: fg })];
    case "dots": return [svgEl("circle", { cx: 4, cy: 4, r: 1.9, fill: fg })];
    case "horiz": return [svgEl("rect", { width: 8, height: 3, fill: fg })];
    default: return [svgEl("rect", { width: 3, height: 8, fill: fg })];
  }
}

function installPatterns(defs) {
  for (const coverage of Object.keys(COVERAGE_COLOURS)) {
    const { bg, fg } = COVERAGE_COLOURS[coverage];
    for (const shape of SHAPES) {
      const attrs = { id: patternId(shape, coverage), width: 8, height: 8, patternUnits: "userSpaceOnUse" };
      if (shape === "diag" || shape === "cross") attrs.patternTransform = "rotate(45)";
      const pattern = svgEl("pattern", attrs);
      pattern.append(svgEl("rect", { width: 8, height: 8, fill: bg }), ...shapeParts(shape, fg));
      defs.append(pattern);
    }
  }
}

// A small swatch (legend, alert list) drawn with the same pattern as the map.
function swatch(kinds, coverage) {
  const svg = svgEl("svg", { width: 22, height: 16, class: "swatch", "aria-hidden": "true", focusable: "false" });
  svg.append(svgEl("rect", { width: 22, height: 16, fill: "url(#" + patternId(shapeOf(kinds), coverage) + ")", stroke: "#333" }));
  return svg;
}

document.addEventListener("DOMContentLoaded", () => {
  const defs = document.getElementById("pattern-defs");
  if (defs) installPatterns(defs);
});
