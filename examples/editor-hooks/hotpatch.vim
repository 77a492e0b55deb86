" hotpatch: push a Tonel file into the running image each time it is saved.
" Put this in ~/.vim/plugin/ (or source it from your vimrc). Errors land in the quickfix list,
" since hotpatch prints them as path:line:col: message.
augroup hotpatch
  autocmd!
  autocmd BufWritePost *.class.st,*.extension.st,*.trait.st call s:HotpatchPush(expand('<afile>:p'))
augroup END

function! s:HotpatchPush(file) abort
  let l:out = systemlist('hotpatch push ' . shellescape(a:file))
  if v:shell_error == 0
    echo 'hotpatch: ' . get(l:out, 0, 'pushed')
    call setqflist([], 'r')
  else
    call setqflist([], 'r', {'title': 'hotpatch push', 'lines': l:out, 'efm': '%f:%l:%c: %m'})
    copen
  endif
endfunction
