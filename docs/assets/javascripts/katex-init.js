// Typeset the math that pymdownx.arithmatex (generic mode) leaves in <span|div class="arithmatex">,
// with the KaTeX files served from this site; re-run on every page Material loads.
// Without KaTeX (not installed at build time) the formulas stay as TeX source.
document$.subscribe(({ body }) => {
  if (typeof renderMathInElement === "undefined") return;
  renderMathInElement(body, {
    delimiters: [
      { left: "$$", right: "$$", display: true },
      { left: "\\(", right: "\\)", display: false },
      { left: "\\[", right: "\\]", display: true },
    ],
    throwOnError: false,
  });
});
