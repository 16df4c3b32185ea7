/* Loaded before the body is parsed (not deferred): with script, the page is drawn as
   review.js will show it from the first layout, so a file hidden behind its tab never
   starts loading its pages (lazy images with no size yet all count as in view). */
document.documentElement.classList.add("js");
