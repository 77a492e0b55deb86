;;; hotpatch.el --- push Tonel files into the running image on save  -*- lexical-binding: t; -*-
;; Load it from your init file: (load "/path/to/hotpatch.el")
;; Errors (path:line:col: message) open in a compilation buffer, so next-error jumps to them.

(defun hotpatch-push-current-file ()
  "Push the saved Tonel file with `hotpatch push FILE'."
  (when (and buffer-file-name
             (string-match-p "\\.\\(class\\|extension\\|trait\\)\\.st\\'" buffer-file-name))
    (let ((default-directory (file-name-directory buffer-file-name)))
      (compilation-start (concat "hotpatch push " (shell-quote-argument buffer-file-name))
                         'compilation-mode (lambda (_) "*hotpatch*")))))

(add-hook 'after-save-hook #'hotpatch-push-current-file)

(provide 'hotpatch)
;;; hotpatch.el ends here
